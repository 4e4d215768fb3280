// Changing the config while the relay runs: endpoints applied by name, under load, in
// memory and journal mode; invalid and refused reloads change nothing; SIGHUP and
// `registry-relay reload` on a real process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closedAfterTests, envelope, makeConfig, pushEvent, V1, waitUntil } from './helpers.ts';
import { freePort } from './registry-process.ts';
import { configReloads, spawnRelay, writeRelayConfig } from './relay-process.ts';

const scope = closedAfterTests();
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

/** `registry-relay reload --config FILE`, as an operator runs it. */
const reloadCommand = (file: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'reload', '--config', file], {
    encoding: 'utf8',
  });

const exactlyOnce = (ids: readonly string[], expected: readonly string[]): void => {
  assert.equal(ids.length, new Set(ids).size, 'no duplicates');
  const got = new Set(ids);
  const missing = expected.filter((id) => !got.has(id));
  assert.deepEqual(missing.slice(0, 5), [], `${String(missing.length)} events missing`);
};

for (const mode of ['memory', 'journal'] as const) {
  it(`reloads three times under load, nothing lost or doubled (${mode})`, async () => {
    const [a, b, b2, c, d] = await Promise.all(
      Array.from({ length: 5 }, () =>
        scope.receiver((_req, res) => setTimeout(() => res.writeHead(200).end(), 1)),
      ),
    );
    assert.ok(a && b && b2 && c && d);
    const extra = {
      shutdown: { timeout: '10s' },
      ...(mode === 'journal'
        ? { storage: { path: mkdtempSync(join(tmpdir(), 'relay-reload-')) } }
        : {}),
    };
    const ep = (name: string, url: string) => ({ name, url, concurrency: 1 });
    const relay = await scope.relay([ep('a', a.url), ep('b', b.url), ep('c', c.url)], extra);
    const configs = [
      [ep('a', a.url), ep('b', b.url), ep('c', c.url), ep('d', d.url)], // add d
      [ep('a', a.url), ep('b', b2.url), ep('c', c.url), ep('d', d.url)], // re-point b
      [ep('a', a.url), ep('b', b2.url), ep('d', d.url)], // remove c
    ];
    const TOTAL = 5000;
    const sent: string[] = [];
    const reloadAt: number[] = [];
    const connectionsAtReload: number[] = [];
    while (sent.length < TOTAL) {
      const at = sent.length;
      if (reloadAt.length < configs.length && at >= (reloadAt.length + 1) * 1200) {
        connectionsAtReload.push(a.connections());
        const outcome = relay.relay.reload(makeConfig(configs[reloadAt.length] ?? [], extra));
        assert.ok(outcome.ok, JSON.stringify(outcome));
        reloadAt.push(at);
      }
      const events = Array.from({ length: 5 }, () => pushEvent());
      const res = await relay.post(envelope(...events));
      assert.equal(res.status, 202);
      sent.push(...events.map((e) => String(e['id'])));
    }
    const [addedAt = 0, , removedAt = 0] = reloadAt;
    await waitUntil(
      () => a.ids().length >= TOTAL && b.ids().length + b2.ids().length >= TOTAL,
      60_000,
      'a and b have everything',
    );
    await waitUntil(
      () => d.ids().length >= TOTAL - addedAt,
      60_000,
      'd has everything since its add',
    );
    exactlyOnce(a.ids(), sent);
    exactlyOnce([...b.ids(), ...b2.ids()], sent);
    assert.ok(b2.ids().length > 0, 'the new URL took over');
    exactlyOnce(d.ids(), sent.slice(addedAt));
    assert.ok(
      !d.ids().some((id) => sent.indexOf(id) < addedAt),
      'd got nothing from before its add',
    );
    const cIds = c.ids();
    assert.equal(cIds.length, new Set(cIds).size, 'c: no duplicates');
    assert.ok(!cIds.some((id) => sent.indexOf(id) >= removedAt), 'c got nothing after its removal');
    assert.equal(
      a.connections(),
      connectionsAtReload[0],
      'the untouched endpoint opened no connection across the reloads',
    );
    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    assert.match(metrics, /relay_config_reloads_total\{result="success"\} 3/);
    // Only its kept backlog is shown, as orphaned (journal); its own series are gone.
    const cSeries = metrics
      .split('\n')
      .filter((l) => l.includes('endpoint="c"') && !l.startsWith('relay_journal_orphaned_pending'));
    assert.deepEqual(cSeries, [], "c's series left /metrics");
    if (mode === 'journal') {
      const orphaned = /relay_journal_orphaned_pending\{endpoint="c"\} (\d+)/.exec(metrics)?.[1];
      assert.equal(
        Number(orphaned ?? 0),
        removedAt - cIds.length,
        "c's undelivered events are kept",
      );
    }
    const vars = await relay.vars();
    assert.deepEqual(
      vars.registry.notifications.endpoints.map((e) => e.name),
      ['a', 'b', 'd'],
    );
    const config = vars.relay['config'] as {
      reloads: { success: number };
      last: { removed: string[] };
    };
    assert.equal(config.reloads.success, 3);
    assert.deepEqual(config.last.removed, ['c']);
  });
}

describe('reloads that change nothing', () => {
  it('refuses a changed listener or storage, naming the key, and keeps serving', async () => {
    const rx = await scope.receiver();
    const relay = await scope.relay([{ name: 'a', url: rx.url }]);
    const outcome = relay.relay.reload(
      makeConfig([{ name: 'a', url: rx.url }], {
        http: { addr: '127.0.0.1:1' },
        storage: { path: mkdtempSync(join(tmpdir(), 'relay-refused-')) },
      }),
    );
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok);
    assert.match(outcome.problems.join('\n'), /^http\.addr: cannot change while the relay runs/m);
    assert.match(outcome.problems.join('\n'), /^storage: cannot change/m);
    assert.equal((await relay.post(envelope(pushEvent()))).status, 202);
    await rx.waitFor(1);
    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    assert.match(metrics, /relay_config_reloads_total\{result="failure"\} 1/);
  });

  it('SIGHUP with an invalid file keeps the old config; `registry-relay reload` applies a valid one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-sighup-'));
    const [a, b] = [await scope.receiver(), await scope.receiver()];
    // The reload command reads the outcome from the ops listener named in the file.
    const base = {
      http: { addr: '127.0.0.1:0', debug: { addr: `127.0.0.1:${String(await freePort())}` } },
      shutdown: { timeout: '100ms' },
    };
    const relay = await spawnRelay(
      { ...base, notifications: { endpoints: [{ name: 'a', url: a.url }] } },
      dir,
    );
    const post = async (): Promise<void> => {
      const res = await fetch(`${relay.ingest}/events`, {
        method: 'POST',
        headers: { 'content-type': V1 },
        body: envelope(pushEvent()),
      });
      assert.equal(res.status, 202);
    };
    const reloads = () => configReloads(relay.debug);
    /** Rewrites the file the relay runs on with these endpoints. */
    const writeEndpoints = (endpoints: Record<string, unknown>[]): string =>
      writeRelayConfig({ ...base, notifications: { endpoints } }, dir);
    await post();
    // Invalid: a bad regex, an unknown key and an unset variable, all at once.
    const file = writeEndpoints([
      { name: 'a', url: a.url, filter: { repositories: ['/([/'] } },
      { name: 'b', url: '${NOT_SET_ANYWHERE}', colour: 'red' },
    ]);
    process.kill(relay.pid, 'SIGHUP');
    for (let i = 0; (await reloads()).failure === 0; i++) {
      assert.ok(i < 200, 'the failed reload is counted');
      await new Promise((r) => setTimeout(r, 25));
    }
    await post();
    await a.waitFor(2);
    // A valid file through the reload command: it signals and reports the outcome.
    writeEndpoints([
      { name: 'a', url: a.url },
      { name: 'b', url: b.url },
    ]);
    const reload = reloadCommand(file);
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    assert.match(reload.stdout, /sent SIGHUP to the relay on .* \(pid \d+\)/);
    assert.match(reload.stdout, /reloaded: added b; changed none; removed none/);
    assert.deepEqual(await reloads(), { success: 1, failure: 1 });
    await post();
    await b.waitFor(1);
    assert.equal(a.ids().length, 3);
    // An invalid file is not sent at all: the command names the problems and exits 2.
    writeEndpoints([]);
    const invalid = reloadCommand(file);
    assert.equal(invalid.status, 2);
    assert.match(invalid.stderr, /configure at least one endpoint[\s\S]*not sent/);
    assert.equal(await relay.kill('SIGTERM'), 0);
    // Once the relay is gone (its pid file with it), the command says so.
    writeEndpoints([{ name: 'a', url: a.url }]);
    const gone = reloadCommand(file);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /no relay runs on .*: no pid file/);
  });
});
