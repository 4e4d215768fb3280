// Changing the config while the relay runs: endpoints applied by name, under load, in
// memory and journal mode; invalid and refused reloads change nothing; SIGHUP and
// `registry-relay reload` on a real process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  closedAfterTests,
  envelope,
  makeConfig,
  pushEvent,
  V1,
  waitUntil,
} from '../support/helpers.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import { freePort } from '../support/registry-process.ts';
import { configReloads, spawnRelay, writeRelayConfig } from '../support/relay-process.ts';

const scope = closedAfterTests();
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

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

/** Messages still in `stream` for `endpoint` (what NATS keeps for a removed endpoint). */
async function natsKept(servers: readonly string[], stream: string, endpoint: string) {
  const nc = await connect({ servers: [...servers] });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream, { subjects_filter: `${stream}.ep.${endpoint}` });
    return info.state.subjects?.[`${stream}.ep.${endpoint}`] ?? 0;
  } finally {
    await nc.close();
  }
}

for (const mode of ['memory', 'journal', 'nats'] as const) {
  const skip = mode === 'nats' ? natsSkip : false;
  it(
    `reloads three times by SIGHUP under load, nothing lost or doubled (${mode})`,
    { skip },
    async () => {
      const [a, b, b2, c, d] = await Promise.all(
        Array.from({ length: 5 }, () =>
          scope.receiver((_req, res) => setTimeout(() => res.writeHead(200).end(), 1)),
        ),
      );
      assert.ok(a && b && b2 && c && d);
      const dir = mkdtempSync(join(tmpdir(), 'relay-reload-'));
      const nats = mode === 'nats' ? await startNats(requireNats()) : undefined;
      const base = {
        shutdown: { timeout: '10s' },
        ...(mode === 'journal' ? { storage: { path: join(dir, 'journal') } } : {}),
        ...(nats === undefined
          ? {}
          : { storage: { nats: { servers: nats.urls, stream: 'reload' } } }),
      };
      const ep = (name: string, url: string) => ({ name, url, concurrency: 1 });
      const configOf = (endpoints: Record<string, unknown>[]) => ({
        ...base,
        notifications: { endpoints },
      });
      const relay = await spawnRelay(
        configOf([ep('a', a.url), ep('b', b.url), ep('c', c.url)]),
        dir,
      );
      const configs = [
        [ep('a', a.url), ep('b', b.url), ep('c', c.url), ep('d', d.url)], // add d
        [ep('a', a.url), ep('b', b2.url), ep('c', c.url), ep('d', d.url)], // re-point b
        [ep('a', a.url), ep('b', b2.url), ep('d', d.url)], // remove c
      ];
      const TOTAL = 5000;
      const sent: string[] = [];
      const post = async (): Promise<void> => {
        while (sent.length < TOTAL) {
          const events = Array.from({ length: 5 }, () => pushEvent());
          const res = await fetch(`${relay.ingest}/events`, {
            method: 'POST',
            headers: { 'content-type': V1 },
            body: envelope(...events),
          });
          assert.equal(res.status, 202);
          sent.push(...events.map((e) => String(e['id'])));
        }
      };
      // Events stream while each reload is signalled and applied: `signalled[i]` events were
      // accepted before the i-th SIGHUP, `applied[i]` before the relay counted it.
      const signalled: number[] = [];
      const applied: number[] = [];
      const connectionsAtReload: number[] = [];
      const reload = async (): Promise<void> => {
        for (const [i, endpoints] of configs.entries()) {
          await waitUntil(() => sent.length >= (i + 1) * 1200, 30_000, `event ${String(i)}`);
          connectionsAtReload.push(a.connections());
          writeRelayConfig(configOf(endpoints), dir);
          signalled.push(sent.length);
          process.kill(relay.pid, 'SIGHUP');
          for (;;) {
            const { success, failure } = await configReloads(relay.debug);
            assert.equal(failure, 0);
            if (success === i + 1) break;
            await new Promise((r) => setTimeout(r, 10));
          }
          applied.push(sent.length);
        }
      };
      await Promise.all([post(), reload()]);
      await waitUntil(
        () =>
          a.ids().length >= TOTAL &&
          b.ids().length + b2.ids().length >= TOTAL &&
          d.ids().length >= TOTAL - (applied[0] ?? 0) &&
          // c's removal has run its course (memory mode: drained until shutdown.timeout).
          relay
            .logs()
            .some((l) => l['endpoint'] === 'c' && /^endpoint retired/.test(String(l['msg']))),
        60_000,
        'a, b and d have everything, c was retired',
      );
      exactlyOnce(a.ids(), sent);
      exactlyOnce([...b.ids(), ...b2.ids()], sent);
      assert.ok(b2.ids().length > 0, 'the new URL took over');
      // d has every event from its first one on, and that one came after d was signalled.
      const dFirst = Math.min(...d.ids().map((id) => sent.indexOf(id)));
      assert.ok(dFirst >= (signalled[0] ?? 0), 'd got nothing from before its add');
      assert.ok(dFirst <= (applied[0] ?? 0), 'd got everything since its add was applied');
      exactlyOnce(d.ids(), sent.slice(dFirst));
      const cIds = c.ids();
      assert.equal(cIds.length, new Set(cIds).size, 'c: no duplicates');
      assert.ok(
        !cIds.some((id) => sent.indexOf(id) >= (applied[2] ?? 0)),
        'c got nothing after its removal',
      );
      assert.equal(
        a.connections(),
        connectionsAtReload[0],
        'the untouched endpoint opened no connection across the reloads',
      );
      const metrics = await (await fetch(`${relay.debug}/metrics`)).text();
      assert.match(metrics, /relay_config_reloads_total\{result="success"\} 3/);
      // Only its kept backlog is shown, as orphaned (journal); its own series are gone.
      const cSeries = metrics
        .split('\n')
        .filter(
          (l) => l.includes('endpoint="c"') && !l.startsWith('relay_journal_orphaned_pending'),
        );
      assert.deepEqual(cSeries, [], "c's series left /metrics");
      // c was owed every event until its removal. Memory mode drains them to it until
      // shutdown.timeout and logs the ids of the rest; the journal keeps what c had not taken
      // yet (shown as orphaned).
      const notDelivered = relay
        .logs()
        .filter((l) => l['endpoint'] === 'c' && Array.isArray(l['eventIds']))
        .flatMap((l) => l['eventIds'] as string[]);
      // NATS keeps a removed endpoint's messages in the stream, for when it returns.
      const orphaned =
        nats === undefined
          ? Number(/relay_journal_orphaned_pending\{endpoint="c"\} (\d+)/.exec(metrics)?.[1] ?? 0)
          : await natsKept(nats.urls, 'reload', 'c');
      // A request cut off at the deadline may have arrived all the same (concurrency 1).
      const reached = new Set([...cIds, ...notDelivered]);
      assert.ok(cIds.length + notDelivered.length - reached.size <= 1, 'at most one cut off');
      const owedToC = reached.size + orphaned;
      assert.ok(owedToC >= (signalled[2] ?? 0) && owedToC <= (applied[2] ?? 0), String(owedToC));
      if (mode === 'memory') exactlyOnce([...reached], sent.slice(0, owedToC));
      const vars = (await (await fetch(`${relay.debug}/debug/vars`)).json()) as {
        registry: { notifications: { endpoints: { name: string }[] } };
        relay: { config: { reloads: { success: number }; last: { removed: string[] } } };
      };
      assert.deepEqual(
        vars.registry.notifications.endpoints.map((e) => e.name),
        ['a', 'b', 'd'],
      );
      assert.equal(vars.relay.config.reloads.success, 3);
      assert.deepEqual(vars.relay.config.last.removed, ['c']);
      assert.equal(await relay.kill('SIGTERM'), 0);
      await nats?.stop();
    },
  );
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
