import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import {
  closedAfterTests,
  envelope,
  portToReopen,
  pushEvent,
  waitUntil,
} from '../support/helpers.ts';
import type { NewEvent } from '../../src/core/event.ts';
import { Journal } from '../../src/journal/journal.ts';
import { freePort } from '../support/registry-process.ts';
import { runCli as cli } from '../support/relay-process.ts';

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
    // JSON lines only on stdout, so it pipes into jq; the count goes to stderr.
    const listed = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      listed.map((d) => [d['eventId'], d['attempts']]),
      [
        [e1['id'], 3],
        [e2['id'], 3],
      ],
    );
    assert.match(String(listed[0]?.['error']), /500 Internal Server Error/);
    assert.equal(list.stderr, '2 dead letters\n');
    const none = await cli(['dead-letters', 'list', '--since', '2099-01-01', '--config', config]);
    assert.equal(none.stdout, '');
    assert.equal(none.stderr, '0 dead letters\n');
    const unknown = await cli(['dead-letters', 'list', '--endpoint', 'nosuch', '--config', config]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--endpoint "nosuch": no such endpoint .*known: ci, ok/);

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

  it('dead-letters list into a pipe that closes early ends quietly', async () => {
    const dir = dataDir();
    const journal = new Journal(dir, { sync: 'normal', maxSize: 2 ** 30 });
    const events: NewEvent[] = Array.from({ length: 20_000 }, () => {
      const e = pushEvent();
      return {
        id: String(e['id']),
        action: 'push',
        mediaType: undefined,
        envelope: envelope(e),
        acceptedAt: Date.now(),
      };
    });
    const appended = journal.append(
      events,
      events.map(() => ['ci']),
    );
    journal.flush();
    for (const seq of await appended) journal.deadLetter('ci', seq, 1, 'answered 500');
    journal.close();
    const config = join(dir, 'relay.yaml');
    writeFileSync(
      config,
      stringify({
        storage: { path: dir },
        notifications: { endpoints: [{ name: 'ci', url: 'http://127.0.0.1:9/' }] },
      }),
    );
    const main = new URL('../../src/main.ts', import.meta.url).pathname;
    // `| head -1`, with a shell, as an operator types it.
    const child = spawn(
      'sh',
      [
        '-c',
        `"${process.execPath}" --import tsx "${main}" dead-letters list --config "${config}" | head -1`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(stdout.trim().split('\n').length, 1);
    assert.equal((JSON.parse(stdout) as { endpoint: string }).endpoint, 'ci');
    assert.doesNotMatch(stderr, /EPIPE|Error/, stderr);
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

  it('recognises a registry re-send that arrives after a restart', async () => {
    const dir = dataDir();
    const rx = await scope.receiver();
    const endpoints = [{ name: 'ci', url: rx.url }];
    const first = await scope.relay(endpoints, { storage: { path: dir } });
    const event = pushEvent();
    assert.equal((await first.post(envelope(event))).status, 202);
    await rx.waitFor(1);
    await first.stop();

    const second = await scope.relay(endpoints, { storage: { path: dir } });
    const again = pushEvent();
    const res = await second.post(envelope(event, again));
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { accepted: 1, duplicates: 1 });
    await rx.waitFor(2);
    await second.stop();
    assert.deepEqual(
      rx.ids(),
      [event['id'], again['id']],
      'the re-sent event is not delivered twice',
    );
  });

  it('gives freed space back: a drained backlog leaves a small file', async (t) => {
    const dir = dataDir();
    const journal = new Journal(dir, {
      sync: 'normal',
      maxSize: 2 ** 30,
      recentIds: { windowMs: 60_000, maxIds: 1000 },
    });
    try {
      const events: NewEvent[] = Array.from({ length: 20_000 }, (_, i) => ({
        id: `e${String(i)}`,
        action: 'push',
        mediaType: undefined,
        envelope: envelope(pushEvent({ padding: 'x'.repeat(600) })),
        acceptedAt: Date.now(),
      }));
      const appended = journal.append(
        events,
        events.map(() => ['ci']),
      );
      journal.flush();
      journal.compact(Date.now());
      const full = journal.bytes;
      for (const seq of await appended) journal.ack('ci', seq);
      journal.flush();
      // Each step frees up to 4 MiB; the relay takes one a second.
      let steps = 0;
      while (journal.compact(Date.now() + 11_000)) steps += 1;
      const drained = journal.bytes;
      t.diagnostic(
        `${String(full)} bytes with 20,000 events pending; ${String(drained)} bytes after they were delivered, ${String(steps + 1)} compaction steps`,
      );
      assert.ok(full > 15 * 2 ** 20, `${String(full)} bytes with 20,000 events pending`);
      assert.ok(
        drained < 2 ** 20,
        `${String(drained)} bytes after the backlog drained (${String(steps)} steps)`,
      );
      assert.equal(journal.recentIds(Date.now()).length, 1000, 'at most http.dedup.maxIds kept');
    } finally {
      journal.close();
    }
  });
});
