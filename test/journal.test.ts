import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { closedAfterTests, envelope, portToReopen, pushEvent, waitUntil } from './helpers.ts';
import { freePort } from './registry-process.ts';

const scope = closedAfterTests();
const dataDir = (): string => mkdtempSync(join(tmpdir(), 'relay-journal-'));

/** Rows left in the journal's tables (read with a connection of the test's own). */
function rows(dir: string): { events: number; pending: number; dead: number } {
  const db = new Database(join(dir, 'journal.db'), { readonly: true });
  try {
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { events: count('events'), pending: count('pending'), dead: count('dead_letters') };
  } finally {
    db.close();
  }
}

/** Posts `n` events in envelopes of `per`, `parallel` requests at a time; returns the ids. */
async function stream(
  post: (body: string) => Promise<Response>,
  n: number,
  per = 10,
  parallel = 4,
): Promise<string[]> {
  const accepted: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const events = Array.from({ length: Math.min(per, n - next) }, () => pushEvent());
        next += events.length;
        const res = await post(envelope(...events));
        assert.equal(res.status, 202, await res.text());
        accepted.push(...events.map((e) => String(e['id'])));
      }
    }),
  );
  return accepted;
}

/** Runs the CLI (`node --import tsx src/main.ts ARGS`); resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const main = new URL('../src/main.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

describe('journal', () => {
  it('delivers through the journal and leaves nothing behind', async () => {
    const dir = dataDir();
    const a = await scope.receiver();
    const b = await scope.receiver();
    const relay = await scope.relay(
      [
        { name: 'a', url: a.url },
        { name: 'b', url: b.url, ignore: { actions: ['pull'] } },
      ],
      { storage: { path: dir } },
    );
    const pushes = await stream(relay.post, 40);
    const pull = pushEvent({ action: 'pull' });
    assert.equal((await relay.post(envelope(pull))).status, 202);
    await a.waitFor(41);
    await b.waitFor(40);
    await relay.stop();
    assert.deepEqual(new Set(a.ids()), new Set([...pushes, String(pull['id'])]));
    assert.deepEqual(new Set(b.ids()), new Set(pushes));
    assert.deepEqual(rows(dir), { events: 0, pending: 0, dead: 0 }, 'delivered events are gone');
  });

  it('an endpoint down for the whole stream gets everything, in order, and never delays the others', async () => {
    const dir = dataDir();
    const port = await portToReopen();
    const up = await scope.receiver();
    const relay = await scope.relay(
      [
        { name: 'up', url: up.url },
        { name: 'late', url: `http://127.0.0.1:${port}/events`, threshold: 1, backoff: '50ms' },
      ],
      // A small window: most of the backlog is read back from disk.
      { storage: { path: dir, window: 16 } },
    );
    const accepted = await stream(relay.post, 400, 5, 6);
    await up.waitFor(400);
    assert.equal((await relay.endpointVars('late')).Metrics.Pending, 400);
    assert.deepEqual(rows(dir).pending, 400, 'the healthy endpoint owes nothing any more');

    // The late endpoint comes up on its port.
    const late: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        late.push(...(JSON.parse(body) as { events: { id: string }[] }).events.map((e) => e.id));
        res.writeHead(200).end();
      });
    });
    server.listen(port, '127.0.0.1');
    await waitUntil(() => late.length >= 400, 20_000, 'the late endpoint to catch up');
    await relay.stop();
    server.close();
    assert.deepEqual(late, up.ids(), 'the same events in the same (journal) order');
    assert.deepEqual(new Set(late), new Set(accepted));
    assert.deepEqual(rows(dir), { events: 0, pending: 0, dead: 0 });
  });

  it('after a restart, replays undelivered events in their original order before new ones', async () => {
    const dir = dataDir();
    const down = `http://127.0.0.1:${String(await freePort())}/events`;
    const first = await scope.relay([{ name: 'ci', url: down, backoff: '1h' }], {
      storage: { path: dir, window: 8 },
      shutdown: { timeout: '50ms' },
    });
    const before: string[] = [];
    for (let i = 0; i < 30; i++) {
      const e = pushEvent();
      before.push(String(e['id']));
      assert.equal((await first.post(envelope(e))).status, 202);
    }
    const report = await first.stop();
    assert.deepEqual(report.undelivered, [{ endpoint: 'ci', pending: 30 }]);

    const rx = await scope.receiver();
    const second = await scope.relay([{ name: 'ci', url: rx.url }], {
      storage: { path: dir, window: 8 },
    });
    assert.equal((await second.endpointVars('ci')).Metrics.Pending >= 0, true);
    const after = pushEvent();
    assert.equal((await second.post(envelope(after))).status, 202);
    await rx.waitFor(31);
    await second.stop();
    assert.deepEqual(rx.ids(), [...before, String(after['id'])]);
    assert.ok(
      second.lines.some((l) => l.includes('replaying undelivered events from the journal')),
    );
  });

  it('dead-letters at retry.maxAttempts; the CLI lists, replays and purges them', async () => {
    const dir = dataDir();
    const rx = await scope.receiver((_req, res) => res.writeHead(500).end());
    const endpoints = [
      { name: 'ci', url: rx.url, threshold: 100, retry: { maxAttempts: 3 } },
      { name: 'ok', url: (await scope.receiver()).url },
    ];
    const storage = { path: dir };
    const relay = await scope.relay(endpoints, { storage });
    const config = join(dir, 'relay.yaml');
    writeFileSync(config, stringify({ storage, notifications: { endpoints } }));
    const e1 = pushEvent();
    const e2 = pushEvent();
    assert.equal((await relay.post(envelope(e1, e2))).status, 202);
    await rx.waitFor(6);
    await waitUntil(() => rows(dir).dead === 2, 5000, 'two dead letters');
    assert.equal((await relay.endpointVars('ci')).Metrics.Pending, 0);
    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    assert.match(metrics, /relay_dead_letters\{endpoint="ci"\} 2/);
    assert.match(metrics, /relay_dead_lettered_events_total\{endpoint="ci"\} 2/);

    const list = await cli(['dead-letters', 'list', '--endpoint', 'ci', '--config', config]);
    assert.equal(list.code, 0, list.stderr);
    const listed = list.stdout
      .trim()
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      listed.map((d) => [d['eventId'], d['attempts']]),
      [
        [e1['id'], 3],
        [e2['id'], 3],
      ],
    );
    assert.match(String(listed[0]?.['error']), /500 Internal Server Error/);
    assert.match(list.stdout, /2 dead letters\n$/);
    const none = await cli(['dead-letters', 'list', '--since', '2099-01-01', '--config', config]);
    assert.match(none.stdout, /^0 dead letters/);

    // Replay into the running relay, the endpoint fixed: it notices within a second.
    rx.respondWith(undefined);
    const replay = await cli(['dead-letters', 'replay', '--endpoint', 'ci', '--config', config]);
    assert.equal(replay.stdout.trim(), '2 dead letters queued again');
    await rx.waitFor(8, 10_000);
    assert.deepEqual(rx.ids().slice(6), [e1['id'], e2['id']]);
    await waitUntil(() => rows(dir).pending === 0, 5000, 'replayed events delivered');

    // One more dead letter, purged.
    rx.respondWith((_req, res) => res.writeHead(500).end());
    assert.equal((await relay.post(envelope(pushEvent()))).status, 202);
    await waitUntil(() => rows(dir).dead === 1, 5000, 'a third dead letter');
    const purge = await cli(['dead-letters', 'purge', '--config', config]);
    assert.equal(purge.stdout.trim(), '1 dead letters purged');
    await relay.stop();
    assert.deepEqual(rows(dir), { events: 0, pending: 0, dead: 0 });

    const bad = await cli(['dead-letters', 'list', '--since', 'yesterday-ish', '--config', config]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since "yesterday-ish"/);
  });

  it('keeps the backlog of an endpoint removed from the config, and purges it on request', async () => {
    const dir = dataDir();
    const down = `http://127.0.0.1:${String(await freePort())}/events`;
    const rx = await scope.receiver();
    const first = await scope.relay(
      [
        { name: 'gone', url: down, backoff: '1h' },
        { name: 'stays', url: rx.url },
      ],
      { storage: { path: dir }, shutdown: { timeout: '50ms' } },
    );
    await stream(first.post, 20);
    await rx.waitFor(20);
    await first.stop();

    const endpoints = [{ name: 'stays', url: rx.url }];
    const second = await scope.relay(endpoints, { storage: { path: dir } });
    assert.ok(
      second.lines.some((l) => l.includes('"endpoint":"gone"') && l.includes('"pending":20')),
    );
    const metrics = await (await fetch(`${second.debugUrl}/metrics`)).text();
    assert.match(metrics, /relay_journal_orphaned_pending\{endpoint="gone"\} 20/);
    await second.stop();

    const config = join(dir, 'relay.yaml');
    writeFileSync(config, stringify({ storage: { path: dir }, notifications: { endpoints } }));
    const status = await cli(['journal', 'status', '--config', config]);
    assert.match(status.stdout, /gone: 20 pending, 0 dead letters \(not configured\)/);
    const refused = await cli(['journal', 'purge', '--endpoint', 'stays', '--config', config]);
    assert.equal(refused.code, 2);
    const purged = await cli(['journal', 'purge', '--endpoint', 'gone', '--config', config]);
    assert.equal(purged.stdout.trim(), '20 pending events of gone purged');
    assert.deepEqual(rows(dir), { events: 0, pending: 0, dead: 0 });
  });

  it('answers 503 journal_full past storage.maxSize, and keeps what it accepted', async () => {
    const dir = dataDir();
    const down = `http://127.0.0.1:${String(await freePort())}/events`;
    const relay = await scope.relay([{ name: 'ci', url: down, backoff: '1h' }], {
      storage: { path: dir, maxSize: '512KiB' },
      shutdown: { timeout: '50ms' },
    });
    let accepted = 0;
    let refused: Response | undefined;
    let metrics = '';
    try {
      for (let i = 0; i < 2000 && refused === undefined; i++) {
        const res = await relay.post(envelope(pushEvent()));
        if (res.status === 202) accepted += 1;
        else refused = res;
      }
      metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    } finally {
      await relay.stop();
    }
    assert.ok(refused, 'the journal filled up');
    assert.ok(accepted > 0, 'some events fit before it did');
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '10');
    const body = (await refused.json()) as { error: string; message: string };
    assert.equal(body.error, 'journal_full');
    assert.match(body.message, /storage\.maxSize/);
    assert.match(metrics, /relay_journal_rejected_events_total\{reason="full"\} 1/);
    assert.equal(rows(dir).pending, accepted, 'every accepted event is still owed');
  });
});
