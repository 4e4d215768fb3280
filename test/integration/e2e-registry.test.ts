import { mkdtempSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startReceiver, startTestRelay, waitUntil, type Receiver } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import { registryBinary, startRegistry } from '../support/registry-process.ts';
import { spawnRelay } from '../support/relay-process.ts';

/**
 * A TCP balancer on loopback sending each new connection to the next backend in turn, as
 * DNS round robin or a Service does (the registry opens a connection per notification).
 */
async function roundRobin(backends: readonly string[]) {
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const target = new URL(backends[next++ % backends.length] ?? '');
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

interface Ev {
  id: string;
  action: string;
  target: { mediaType?: string; repository?: string; tag?: string; digest?: string };
}

const bin = registryBinary();
// CI installs docker-registry (.ci/run); elsewhere a missing binary skips with a reason.
const skip =
  bin === undefined && process.env['CI'] !== 'true'
    ? 'docker-registry not installed (apt-get install docker-registry, or set REGISTRY_BIN)'
    : false;

describe('end to end with a real registry (Distribution 2.8.2)', { skip }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  for (const mode of ['memory', 'journal', 'two relays on NATS JetStream'] as const) {
    const jetstream = mode === 'two relays on NATS JetStream';
    const modeSkip = jetstream ? natsSkip : false;
    it(
      `every receiver gets exactly the events its rules allow, by id, once (${mode})`,
      { skip: modeSkip },
      async () => {
        assert.ok(bin, 'docker-registry binary not found: install it or set REGISTRY_BIN');
        const rx: Record<string, Receiver> = {};
        for (const name of ['tap', 'all', 'noPulls', 'noBlobs', 'deletes']) {
          const r = await startReceiver();
          rx[name] = r;
          cleanups.push(() => r.close());
        }
        const rules: Record<string, { mediaTypes: string[]; actions: string[] }> = {
          all: { mediaTypes: [], actions: [] },
          noPulls: { mediaTypes: [], actions: ['pull'] },
          noBlobs: { mediaTypes: ['application/octet-stream'], actions: [] },
          deletes: { mediaTypes: [], actions: ['push', 'pull', 'mount'] },
        };
        const endpoints = Object.entries(rules).map(([name, rule]) => ({
          name,
          url: rx[name]?.url,
          ignoredmediatypes: rule.mediaTypes,
          ignore: { actions: rule.actions },
        }));
        let ingestUrl: string;
        /** Events each relay accepted, once the run is over (one relay: one figure). */
        let acceptedPerRelay: () => Promise<number[]> = () => Promise.resolve([]);
        if (jetstream) {
          // Two relay processes on one JetStream, behind a round-robin balancer.
          const nats = await startNats(requireNats());
          cleanups.push(() => nats.stop());
          const config = {
            http: {
              addr: '127.0.0.1:0',
              debug: { addr: '127.0.0.1:0' },
              auth: { tokens: ['e2e-token'] },
            },
            storage: { nats: { servers: nats.urls, stream: 'e2e' } },
            notifications: { endpoints },
          };
          const relays = [
            await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-e2e-nats-a-'))),
            await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-e2e-nats-b-'))),
          ];
          cleanups.push(() => Promise.all(relays.map((r) => r.kill('SIGTERM'))));
          const balancer = await roundRobin(relays.map((r) => r.ingest));
          cleanups.push(() => balancer.close());
          ingestUrl = balancer.url;
          acceptedPerRelay = () =>
            Promise.all(
              relays.map(async (r) => {
                const text = await (await fetch(`${r.debug}/metrics`)).text();
                return Number(/^relay_ingest_events_total (\d+)$/m.exec(text)?.[1] ?? 0);
              }),
            );
        } else {
          const relay = await startTestRelay(endpoints, {
            http: { auth: { tokens: ['e2e-token'] } },
            ...(mode === 'journal'
              ? { storage: { path: mkdtempSync(join(tmpdir(), 'relay-e2e-journal-')) } }
              : {}),
          });
          cleanups.push(() => relay.stop());
          ingestUrl = relay.ingestUrl;
        }

        // The registry sends to the relay, and (for ground truth) straight to a tap receiver.
        const registry = await startRegistry(bin, [
          {
            name: 'relay',
            url: `${ingestUrl}/events`,
            headers: { Authorization: ['Bearer e2e-token'] },
            timeout: '2s',
            threshold: 3,
            backoff: '1s',
          },
          { name: 'tap', url: rx['tap']?.url ?? '', timeout: '2s', threshold: 3, backoff: '1s' },
        ]);
        cleanups.push(() => registry.stop());

        const app = await registry.pushImage('team/app', 'v1', 'one');
        await registry.pushImage('team/app', 'v2', 'two');
        await registry.pullManifest('team/app', 'v1');
        await registry.pullManifest('team/app', 'v2', 'HEAD');
        await registry.pullManifest('team/app', app.manifestDigest);
        await registry.pullBlob('team/app', app.layerDigest);
        await registry.mount('team/other', 'team/app', app.layerDigest);
        await registry.deleteManifest('team/app', app.manifestDigest);
        await registry.deleteBlob('team/other', app.layerDigest);

        const tap = rx['tap'];
        assert.ok(tap);
        // Ground truth, as the registry sent it: 2 × (2 blob pushes + 1 manifest push), 4 pulls
        // (GET and HEAD by tag, GET by digest, a blob), 1 mount, 3 deletes (the manifest by
        // digest, its tag v1, the mounted blob).
        const EXPECTED_EVENTS = 14;
        await waitUntil(
          () => tap.events().length >= EXPECTED_EVENTS,
          20_000,
          'the tap receiver to get every event',
        );
        await new Promise((r) => setTimeout(r, 300)); // let the tap settle: no more events come
        const truth = tap.events() as unknown as Ev[];
        assert.equal(truth.length, EXPECTED_EVENTS);
        assert.deepEqual([...new Set(truth.map((e) => e.action))].sort(), [
          'delete',
          'mount',
          'pull',
          'push',
        ]);
        assert.equal(
          new Set(truth.map((e) => e.id)).size,
          truth.length,
          'the tap saw each event once',
        );

        for (const [name, rule] of Object.entries(rules)) {
          const expected = truth
            .filter((e) => !rule.actions.includes(e.action))
            .filter(
              (e) =>
                e.target.mediaType === undefined || !rule.mediaTypes.includes(e.target.mediaType),
            )
            .map((e) => e.id)
            .sort();
          const receiver = rx[name];
          assert.ok(receiver);
          await waitUntil(
            () => receiver.ids().length >= expected.length,
            20_000,
            `${name} to receive ${expected.length}`,
          );
          await new Promise((r) => setTimeout(r, 100));
          const got = receiver.ids();
          assert.equal(new Set(got).size, got.length, `${name} got a duplicate`);
          assert.deepEqual([...got].sort(), expected, `${name} got exactly what its rules allow`);
          assert.ok(expected.length > 0, `${name} expected something`);
        }
        if (jetstream) {
          const accepted = await acceptedPerRelay();
          assert.ok(
            accepted.every((n) => n > 0),
            `both relays took part of the ingest (${accepted.join(', ')})`,
          );
        }
        // The relay's copies carry every field the registry sent.
        const byId = new Map(truth.map((e) => [e.id, e]));
        for (const e of rx['all']?.events() ?? []) assert.deepEqual(e, byId.get(e['id'] as string));
        const deletes = rx['deletes']?.events() as unknown as Ev[];
        assert.ok(
          deletes.some((e) => e.target.tag === 'v1'),
          'a manifest delete also names its tag',
        );
      },
    );
  }
});
