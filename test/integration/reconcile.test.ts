// Reconciliation against a real docker-registry, the relay as a process on the journal:
// what the registry's in-memory queue lost while the relay was down is recovered by the
// walk, once; what arrived normally is not delivered again.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  envelope,
  portToReopen,
  startReceiver,
  waitUntil,
  type Receiver,
} from '../support/helpers.ts';
import { registryBinary, startRegistry } from '../support/registry-process.ts';
import { spawnRelay, type RelayProcess } from '../support/relay-process.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import { assertValidEnvelope } from '../support/schema.ts';

type Ev = {
  id: string;
  action: string;
  target: { repository?: string; tag?: string; digest?: string; mediaType?: string };
  relay?: { source?: string; reconciled?: { registry: string; seenAt: string } };
};

const bin = registryBinary();
const skip =
  bin === undefined && process.env['CI'] !== 'true' ? 'docker-registry not installed' : false;

const manifestEvents = (rx: Receiver): Ev[] =>
  (rx.events() as Ev[]).filter((e) => e.target.tag !== undefined || e.action === 'delete');

async function registryState(relay: RelayProcess) {
  const res = await fetch(`${relay.debug}/api/v1/registries`);
  const body = (await res.json()) as {
    registries: {
      name: string;
      reconcile?: {
        running: boolean;
        lastPass?: {
          result: string;
          startedAt: string;
          pushes: number;
          deletes: number;
          requests: number;
          seconds: number;
          repositories: number;
          tags: number;
        };
      };
    }[];
  };
  return body.registries[0]?.reconcile;
}

describe('reconciliation with a real registry (Distribution 2.8.2)', { skip }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('recovers the pushes and deletes a registry restart lost, once each, and no event that arrived normally', async (t) => {
    assert.ok(bin);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const registryPort = await portToReopen();
    const relayPort = await portToReopen();
    const dir = mkdtempSync(join(tmpdir(), 'relay-reconcile-'));
    const config = {
      http: {
        addr: `127.0.0.1:${String(relayPort)}`,
        debug: { addr: '127.0.0.1:0', auth: { tokens: ['admin-token'] } },
      },
      storage: { path: join(dir, 'data') },
      registries: [
        {
          name: 'local',
          url: `http://127.0.0.1:${String(registryPort)}`,
          reconcile: { interval: '2s', budget: 500 },
        },
      ],
      notifications: {
        endpoints: [{ name: 'all', url: rx.url, filter: { targets: ['manifest', 'tag'] } }],
      },
    };
    const notify = [
      {
        name: 'relay',
        url: `http://127.0.0.1:${String(relayPort)}/events`,
        timeout: '1s',
        threshold: 3,
        backoff: '200ms',
      },
    ];
    let relay = await spawnRelay(config, dir);
    let registry = await startRegistry(bin, notify, { port: registryPort });
    cleanups.push(() => registry.stop());
    const original: Record<string, string> = {};
    for (const tag of ['t0', 't1', 't2'])
      original[tag] = (await registry.pushImage('team/app', tag, `first-${tag}`)).manifestDigest;
    await waitUntil(
      () => manifestEvents(rx).length >= 3,
      15_000,
      'three pushes delivered normally',
    );
    const normalAt = Date.now();
    // A walk after the normal events knows them all: it reports nothing.
    await waitUntil(
      async () => {
        const pass = (await registryState(relay))?.lastPass;
        return pass?.result === 'complete' && Date.parse(pass.startedAt) > normalAt;
      },
      15_000,
      'a complete walk after the pushes',
    );
    assert.equal(manifestEvents(rx).length, 3);
    assert.equal(await relay.kill('SIGTERM'), 0);

    // Relay down: 20 tags pushed, 2 deleted, 1 moved; then the registry restarts (its queue is lost).
    const pushed: Record<string, string> = {};
    for (let i = 0; i < 20; i++)
      pushed[`r${String(i)}`] = (
        await registry.pushImage('team/app', `r${String(i)}`, `down-${String(i)}`)
      ).manifestDigest;
    await registry.deleteManifest('team/app', original['t0'] ?? '');
    await registry.deleteManifest('team/app', original['t1'] ?? '');
    const moved = (await registry.pushImage('team/app', 't2', 'moved')).manifestDigest;
    await registry.stop();
    registry = await startRegistry(bin, notify, { dir: registry.dir, port: registryPort });

    const started = Date.now();
    relay = await spawnRelay(config, dir);
    cleanups.push(() => relay.kill('SIGKILL'));
    await waitUntil(
      () => manifestEvents(rx).length >= 3 + 20 + 1 + 2,
      20_000,
      'the missed pushes and deletes',
    );
    const recoveredIn = (Date.now() - started) / 1000;
    // Two intervals and a little: nothing more comes.
    await new Promise((r) => setTimeout(r, 4500));
    const events = manifestEvents(rx);
    const recovered = events.slice(3);
    assert.equal(
      recovered.length,
      23,
      recovered.map((e) => `${e.action} ${e.target.tag ?? ''}`).join(', '),
    );
    const key = (e: Ev) => `${e.action} ${e.target.tag ?? ''} ${e.target.digest ?? ''}`;
    assert.deepEqual(
      recovered.map(key).sort(),
      [
        ...Object.entries(pushed).map(([tag, digest]) => `push ${tag} ${digest}`),
        `push t2 ${moved}`,
        `delete t0 ${original['t0'] ?? ''}`,
        `delete t1 ${original['t1'] ?? ''}`,
      ].sort(),
    );
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'each delivered once');
    assertValidEnvelope({ events: rx.events() }, 'delivered, reconciled ones included');
    for (const e of recovered) {
      assert.equal(e.relay?.source, 'reconcile');
      assert.equal(e.relay.reconciled?.registry, 'local');
    }
    const pushOf = recovered.find((e) => e.target.tag === 'r0');
    assert.equal(pushOf?.target.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');

    // A late registry event for what the walk reported is a duplicate, acknowledged and not sent.
    const late = await fetch(`${relay.ingest}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      body: envelope({
        id: 'late-registry-event-r0',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: pushed['r0'],
          repository: 'team/app',
          tag: 'r0',
          url: `http://127.0.0.1:${String(registryPort)}/v2/team/app/manifests/${pushed['r0'] ?? ''}`,
        },
        request: {
          host: `127.0.0.1:${String(registryPort)}`,
          method: 'PUT',
          useragent: 'docker/27',
        },
        actor: {},
        source: {},
      }),
    });
    assert.deepEqual(await late.json(), { accepted: 0, duplicates: 1 });

    // Started by hand through the admin API: a pass that finds nothing new.
    const now = await fetch(`${relay.debug}/api/v1/registries/local/reconcile`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-token' },
    });
    assert.equal(now.status, 200);
    const pass = (await now.json()) as {
      result: string;
      pushes: number;
      deletes: number;
      requests: number;
      tags: number;
    };
    assert.deepEqual([pass.result, pass.pushes, pass.deletes], ['complete', 0, 0]);
    // One repository, 21 tags: 1 catalog page + 1 tag list + 21 HEADs.
    assert.equal(pass.requests, 1 + 1 + 21);
    assert.equal(manifestEvents(rx).length, 26);
    const text = await (await fetch(`${relay.debug}/metrics`)).text();
    assert.match(text, /relay_reconcile_differences_total\{registry="local",kind="push"\} 21/);
    assert.match(text, /relay_reconcile_differences_total\{registry="local",kind="delete"\} 2/);
    t.diagnostic(
      `recovered 23 events in ${recoveredIn.toFixed(1)} s; a pass of 21 tags: ${String(pass.requests)} requests`,
    );
  });

  it('a walk interrupted by a registry stop reports no delete from the partial listing; the next resumes and does', async () => {
    assert.ok(bin);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const registryPort = await portToReopen();
    let registry = await startRegistry(bin, [], { port: registryPort });
    cleanups.push(() => registry.stop());
    for (let r = 0; r < 10; r++) {
      for (let i = 0; i < 5; i++)
        await registry.pushImage(
          `team/r${String(r)}`,
          `v${String(i)}`,
          `stop-${String(r)}-${String(i)}`,
        );
    }
    const dir = mkdtempSync(join(tmpdir(), 'relay-reconcile-stop-'));
    const relay = await spawnRelay(
      {
        http: {
          addr: '127.0.0.1:0',
          debug: { addr: '127.0.0.1:0', auth: { tokens: ['admin-token'] } },
        },
        storage: { path: join(dir, 'data') },
        registries: [
          {
            name: 'local',
            url: registry.base,
            timeout: '1s',
            reconcile: { interval: '1h', budget: 10 },
          },
        ],
        notifications: { endpoints: [{ name: 'all', url: rx.url }] },
      },
      dir,
    );
    cleanups.push(() => relay.kill('SIGKILL'));
    // The first walk records the 50 tags.
    await waitUntil(
      async () => (await registryState(relay))?.lastPass?.result === 'complete',
      30_000,
      'the first walk',
    );
    // A tag the relay heard of that the registry does not have (its delete event was lost).
    const ghost = `sha256:${'9'.repeat(64)}`;
    const posted = await fetch(`${relay.ingest}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      body: envelope({
        id: 'ghost-push',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: ghost,
          repository: 'team/r9',
          tag: 'ghost',
        },
        request: { host: new URL(registry.base).host },
        actor: {},
        source: {},
      }),
    });
    assert.equal(posted.status, 202);
    const walk = fetch(`${relay.debug}/api/v1/registries/local/reconcile`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-token' },
    });
    await waitUntil(
      async () => (await registryState(relay))?.running === true,
      10_000,
      'the walk under way',
    );
    await new Promise((r) => setTimeout(r, 1500));
    await registry.stop();
    const broken = (await (await walk).json()) as {
      result: string;
      repositories: number;
      deletes: number;
    };
    assert.equal(broken.result, 'failed');
    assert.ok(
      broken.repositories < 10,
      `interrupted after ${String(broken.repositories)} repositories`,
    );
    assert.equal(broken.deletes, 0);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(
      (rx.events() as Ev[]).filter((e) => e.action === 'delete').length,
      0,
      'no delete from the partial listing',
    );

    registry = await startRegistry(bin, [], { dir: registry.dir, port: registryPort });
    const again = await fetch(`${relay.debug}/api/v1/registries/local/reconcile`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-token' },
    });
    const resumed = (await again.json()) as {
      result: string;
      repositories: number;
      deletes: number;
      pushes: number;
    };
    assert.equal(resumed.result, 'complete');
    assert.ok(
      resumed.repositories < 10 && resumed.repositories > 0,
      `resumed: ${String(resumed.repositories)} repositories walked`,
    );
    assert.deepEqual([resumed.deletes, resumed.pushes], [1, 0]);
    await waitUntil(
      () => (rx.events() as Ev[]).some((e) => e.action === 'delete'),
      10_000,
      'the delete delivered',
    );
    const deletes = (rx.events() as Ev[]).filter((e) => e.action === 'delete');
    assert.deepEqual(
      deletes.map(
        (e) => `${e.target.repository ?? ''}:${e.target.tag ?? ''} ${e.target.digest ?? ''}`,
      ),
      [`team/r9:ghost ${ghost}`],
    );
  });

  it(
    'two relays on JetStream: one walks; killed mid-walk, the other finishes; each difference delivered once',
    { skip: natsSkip },
    async (t) => {
      assert.ok(bin);
      const nats = await startNats(requireNats());
      cleanups.push(() => nats.stop());
      const rx = await startReceiver();
      cleanups.push(() => rx.close());
      const registry = await startRegistry(bin, []);
      cleanups.push(() => registry.stop());
      const expected = new Set<string>();
      for (let r = 0; r < 30; r++) {
        for (let i = 0; i < 10; i++) {
          const repo = `team/r${String(r).padStart(2, '0')}`;
          const digest = (await registry.pushImage(repo, `v${String(i)}`, `${repo}-${String(i)}`))
            .manifestDigest;
          expected.add(`${repo}:v${String(i)} ${digest}`);
        }
      }
      const config = {
        http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' } },
        storage: { nats: { servers: nats.urls, stream: 'reconcile' } },
        registries: [
          {
            name: 'local',
            url: registry.base,
            reconcile: { interval: '2s', budget: 60, firstPass: 'report' },
          },
        ],
        notifications: { endpoints: [{ name: 'all', url: rx.url }] },
      };
      const relays = [
        await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-reconcile-a-'))),
        await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-reconcile-b-'))),
      ];
      cleanups.push(() => Promise.all(relays.map((r) => r.kill('SIGKILL'))));
      await waitUntil(() => rx.events().length >= 60, 30_000, 'the walk under way');
      const running = await Promise.all(
        relays.map(async (r) => (await registryState(r))?.running === true),
      );
      const walker = running.indexOf(true);
      const said = relays.map((r) =>
        r
          .logs()
          .filter((l) => String(l['msg']).includes('reconcil'))
          .map((l) => JSON.stringify(l))
          .join('\n'),
      );
      assert.ok(
        walker >= 0 && running.filter(Boolean).length === 1,
        `exactly one relay walks (${running.join(',')}):\n${said.join('\n---\n')}`,
      );
      const other = relays[1 - walker];
      assert.ok(other);
      await relays[walker]?.kill('SIGKILL');
      const killedAt = rx.events().length;
      await waitUntil(() => rx.events().length >= 300, 90_000, 'every tag reported');
      await new Promise((r) => setTimeout(r, 3000));
      const events = rx.events() as Ev[];
      const ids = events.map((e) => e.id);
      assert.equal(new Set(ids).size, 300, 'each difference reported once');
      // The killed relay's delivery in flight is sent again after ackWait, as for any event
      // (at most 2 × concurrency × batch, as in the combination test); no report is doubled.
      assert.ok(
        ids.length - 300 <= 2,
        `${String(ids.length - 300)} deliveries again after the kill`,
      );
      assert.deepEqual(
        new Set(
          events.map(
            (e) => `${e.target.repository ?? ''}:${e.target.tag ?? ''} ${e.target.digest ?? ''}`,
          ),
        ),
        expected,
      );
      const pass = (await registryState(other))?.lastPass;
      t.diagnostic(
        `walker killed after ${String(killedAt)} of 300; the other relay's pass: ${JSON.stringify(pass)}`,
      );
    },
  );
});
