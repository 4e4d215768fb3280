import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { envelope, pushEvent, startReceiver, startTestRelay, V1 } from '../support/helpers.ts';
import { freePort } from '../support/registry-process.ts';
import { spawnRelay } from '../support/relay-process.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

describe('shutdown', () => {
  it('refuses new events with 503, delivers everything queued, then stops', async () => {
    const rx = await startReceiver((_req, res) => setTimeout(() => res.writeHead(200).end(), 10));
    const r = await startTestRelay([{ name: 'slow', url: rx.url }], {
      shutdown: { timeout: '1m' },
    });
    const ids: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const e = pushEvent();
      ids.push(e['id']);
      assert.equal((await r.post(envelope(e))).status, 202);
    }
    const stopping = r.stop();
    const refused = await r.post(envelope(pushEvent()));
    assert.equal(refused.status, 503);
    const report = await stopping;
    assert.equal(report.drained, true);
    assert.deepEqual(report.undelivered, [{ endpoint: 'slow', pending: 0 }]);
    assert.deepEqual(rx.ids(), ids);
    assert.ok(r.lines.some((l) => l.includes('"endpoint drained"') && l.includes('"slow"')));
    await assert.rejects(r.post(envelope(pushEvent())), 'the listener is closed');
    await rx.close();
  });

  it('gives up at shutdown.timeout and logs what each endpoint left undelivered', async () => {
    const rx = await startReceiver();
    const r = await startTestRelay(
      [
        { name: 'dead', url: 'http://127.0.0.1:9/', threshold: 1, backoff: '1h' },
        { name: 'fine', url: rx.url },
      ],
      { shutdown: { timeout: '300ms' } },
    );
    for (let i = 0; i < 5; i++) await r.post(envelope(pushEvent()));
    const report = await r.stop();
    assert.equal(report.drained, false);
    assert.deepEqual(report.undelivered, [
      { endpoint: 'dead', pending: 5 },
      { endpoint: 'fine', pending: 0 },
    ]);
    const warn = r.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['msg'] === 'events left undelivered at shutdown');
    assert.deepEqual([warn?.['endpoint'], warn?.['undelivered']], ['dead', 5]);
    assert.equal(rx.ids().length, 5);
    await rx.close();
  });

  it('the daemon drains on SIGTERM and exits 0', async () => {
    const rx = await startReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'relay-shutdown-'));
    const file = join(dir, 'relay.yaml');
    writeFileSync(
      file,
      stringify({
        http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' } },
        shutdown: { timeout: '5s' },
        notifications: { endpoints: [{ name: 'rx', url: rx.url }] },
      }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.setEncoding('utf8');
      const ingestUrl = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: string) => {
          out += chunk;
          const m = /"ingest":"(http:\/\/[^"]+)"/.exec(out);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        child.once('exit', (code) => {
          reject(new Error(`relay exited early (${String(code)}): ${out}`));
        });
      });
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${ingestUrl}/events`, {
          method: 'POST',
          headers: { 'content-type': V1 },
          body: envelope(pushEvent()),
        });
        assert.equal(res.status, 202);
      }
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.ok(child.pid !== undefined && process.kill(child.pid, 'SIGTERM'));
      assert.equal(await exited, 0, out);
      assert.equal(rx.ids().length, 10);
      assert.match(out, /"endpoint":"rx","undelivered":0,"msg":"endpoint drained"/);
      assert.match(out, /"msg":"registry-relay stopped"/);
    } finally {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      await rx.close();
    }
  });

  it('a second signal exits at once, even with the journal and concurrent delivery', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-signal-'));
    const relay = await spawnRelay(
      {
        shutdown: { timeout: '1h' },
        storage: { path: join(dir, 'data') },
        notifications: {
          endpoints: [
            { name: 'down', url: `http://127.0.0.1:${String(await freePort())}/`, concurrency: 2 },
          ],
        },
      },
      dir,
    );
    const res = await fetch(`${relay.ingest}/events`, {
      method: 'POST',
      headers: { 'content-type': V1 },
      body: envelope(pushEvent()),
    });
    assert.equal(res.status, 202);
    assert.equal((await fetch(`${relay.debug}/healthz`)).status, 200, 'still answering');
    process.kill(relay.pid, 'SIGINT');
    // Draining towards a dead endpoint for up to an hour: still running, not ready.
    for (let i = 0; (await fetch(`${relay.debug}/readyz`)).status !== 503; i++) {
      assert.ok(i < 100, '/readyz still 200 after SIGINT');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await relay.kill('SIGINT'), 1, 'the second signal exits 1 without waiting');
  });

  it('exits 1 when a listener cannot listen', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    const dir = mkdtempSync(join(tmpdir(), 'relay-taken-'));
    try {
      await assert.rejects(
        spawnRelay(
          {
            http: { addr: `127.0.0.1:${String(port)}`, debug: { addr: '127.0.0.1:0' } },
            notifications: { endpoints: [{ name: 'rx', url: 'http://127.0.0.1:9/' }] },
          },
          dir,
        ),
        /relay exited \(1\) before listening/,
      );
    } finally {
      taken.close();
    }
  });
});
