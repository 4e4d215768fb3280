// Several relays on one NATS JetStream, as users run them: relay processes on a config
// file, real nats-server processes, real receivers. Everything killed by its pid.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createUser } from '@nats-io/nkeys';
import { stringify } from 'yaml';
import { makeTestCertificates } from '../support/certificates.ts';
import { closedAfterTests, pushEvent, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import {
  configReloads,
  postEvents as post,
  runCli,
  spawnRelay,
  writeRelayConfig,
  type RelayProcess,
} from '../support/relay-process.ts';

const scope = closedAfterTests();
let streams = 0;

describe('NATS JetStream storage', { skip: natsSkip }, () => {
  it('two relays share the work: every event once, in order, re-sends to the other relay dropped', async () => {
    const nats = await startNats(requireNats());
    const rx = await scope.receiver();
    streams += 1;
    const config = {
      storage: { nats: { servers: nats.urls, stream: `two-${String(streams)}`, ackWait: '2s' } },
      notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
    };
    const relays = [
      await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-a-'))),
      await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-b-'))),
    ];
    const sent: string[] = [];
    for (let i = 0; i < 200; i++) {
      const event = pushEvent();
      const res = await post(relays[i % 2] as RelayProcess, [event]);
      assert.equal(res.status, 202);
      sent.push(String(event['id']));
      if (i % 5 === 4) {
        // The registry re-sends to whichever relay its load balancer picks.
        const again = await post(relays[(i + 1) % 2] as RelayProcess, [event]);
        assert.equal(again.status, 202);
      }
    }
    await waitUntil(() => rx.ids().length >= sent.length, 30_000, 'every event delivered');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(rx.ids(), sent, 'each event once, in acceptance order (concurrency 1)');
    for (const r of relays) assert.equal(await r.kill('SIGTERM'), 0);
    await nats.stop();
  });

  it('a delivery longer than ackWait stays with its relay (in-progress acks): no duplicate', async () => {
    const nats = await startNats(requireNats());
    const rx = await scope.receiver((_req, res) =>
      setTimeout(() => res.writeHead(200).end(), 2500),
    );
    streams += 1;
    const config = {
      storage: { nats: { servers: nats.urls, stream: `slow-${String(streams)}`, ackWait: '1s' } },
      notifications: { endpoints: [{ name: 'ci', url: rx.url, timeout: '10s' }] },
    };
    const relays = [
      await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-a-'))),
      await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-b-'))),
    ];
    const sent = [pushEvent(), pushEvent()];
    assert.equal((await post(relays[0] as RelayProcess, sent)).status, 202);
    await waitUntil(() => rx.ids().length >= 2, 20_000, 'both delivered');
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(
      rx.ids(),
      sent.map((e) => String(e['id'])),
    );
    for (const r of relays) assert.equal(await r.kill('SIGTERM'), 0);
    await nats.stop();
  });

  it('a relay killed mid-stream: the other delivers the rest, duplicates only from the one in flight', async () => {
    const nats = await startNats(requireNats());
    const rx = await scope.receiver((_req, res) => setTimeout(() => res.writeHead(200).end(), 5));
    streams += 1;
    const config = {
      storage: { nats: { servers: nats.urls, stream: `kill-${String(streams)}`, ackWait: '2s' } },
      notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
    };
    const [a, b] = [
      await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-a-'))),
      await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-b-'))),
    ];
    const sent: string[] = [];
    for (let i = 0; i < 300; i++) {
      const event = pushEvent();
      assert.equal((await post(i % 2 === 0 ? a : b, [event])).status, 202);
      sent.push(String(event['id']));
    }
    await waitUntil(() => rx.ids().length >= 50, 30_000, 'delivery under way');
    await a.kill('SIGKILL');
    await waitUntil(() => new Set(rx.ids()).size >= sent.length, 30_000, 'the rest delivered');
    const got = rx.ids();
    assert.deepEqual([...new Set(got)].sort(), [...sent].sort());
    assert.ok(got.length - sent.length <= 1, `${String(got.length - sent.length)} duplicates`);
    assert.equal(await b.kill('SIGTERM'), 0);
    await nats.stop();
  });

  it('a relay killed holding a message: another gets it after ackWait; lag and redeliveries in /metrics', async () => {
    const nats = await startNats(requireNats());
    let first = true;
    const rx = await scope.receiver((_req, res) => {
      // The first request is never answered: its relay dies holding the message.
      if (first) first = false;
      else res.writeHead(200).end();
    });
    streams += 1;
    const config = {
      storage: { nats: { servers: nats.urls, stream: `held-${String(streams)}`, ackWait: '2s' } },
      notifications: { endpoints: [{ name: 'ci', url: rx.url, timeout: '60s' }] },
    };
    const a = await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-a-')));
    const sent = [pushEvent(), pushEvent()];
    assert.equal((await post(a, sent)).status, 202);
    await rx.waitFor(1);
    // One message out (concurrency 1), one not yet handed to anyone.
    await waitUntil(
      async () => {
        const text = await (await fetch(`${a.debug}/metrics`)).text();
        return (
          /relay_nats_consumer_pending\{endpoint="ci"\} 1\n/.test(text) &&
          /relay_nats_consumer_ack_pending\{endpoint="ci"\} 1\n/.test(text) &&
          /relay_nats_connected 1\n/.test(text)
        );
      },
      10_000,
      'consumer lag 1 and 1 in flight',
    );
    const b = await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-b-')));
    await a.kill('SIGKILL');
    await waitUntil(() => rx.ids().length >= 3, 20_000, 'redelivered by the other relay');
    const ids = sent.map((e) => String(e['id']));
    assert.deepEqual(rx.ids(), [ids[0], ids[0], ids[1]]);
    const text = await (await fetch(`${b.debug}/metrics`)).text();
    assert.match(text, /relay_nats_redelivered_total\{endpoint="ci"\} 1\n/);
    assert.equal(await b.kill('SIGTERM'), 0);
    await nats.stop();
  });

  it('a failed attempt goes back to NATS with the breaker delay: any relay retries it, a dead one holds nothing', async () => {
    const nats = await startNats(requireNats());
    const times: number[] = [];
    const rx = await scope.receiver((_req, res) => {
      times.push(Date.now());
      res.writeHead(times.length <= 3 ? 503 : 200).end();
    });
    streams += 1;
    // ackWait is long: were the event held by the relay that failed, its death would
    // keep it from the other relay for 30 s.
    const config = {
      storage: { nats: { servers: nats.urls, stream: `nak-${String(streams)}`, ackWait: '30s' } },
      notifications: {
        endpoints: [{ name: 'ci', url: rx.url, threshold: 2, backoff: '1s' }],
      },
    };
    const a = await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-a-')));
    const b = await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-nats-b-')));
    const event = pushEvent();
    assert.equal((await post(a, [event])).status, 202);
    // Two attempts at once (below threshold), then the second failure asks for 1 s.
    await rx.waitFor(2);
    await new Promise((r) => setTimeout(r, 300));
    await a.kill('SIGKILL');
    await rx.waitFor(4, 15_000);
    const [t1 = 0, t2 = 0, t3 = 0] = times;
    assert.ok(t2 - t1 < 900, `second attempt at once (${String(t2 - t1)} ms)`);
    assert.ok(t3 - t2 >= 900, `third attempt after the backoff (${String(t3 - t2)} ms)`);
    assert.deepEqual(rx.ids(), Array(4).fill(event['id']));
    assert.equal(await b.kill('SIGTERM'), 0);
    await nats.stop();
  });

  it('a reload that changes concurrency changes how many are out at once (the consumer)', async () => {
    const nats = await startNats(requireNats());
    let inFlight = 0;
    let most = 0;
    const rx = await scope.receiver((_req, res) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(200).end();
      }, 100);
    });
    streams += 1;
    const dir = mkdtempSync(join(tmpdir(), 'relay-nats-reload-'));
    const configOf = (concurrency: number) => ({
      storage: { nats: { servers: nats.urls, stream: `conc-${String(streams)}` } },
      notifications: { endpoints: [{ name: 'ci', url: rx.url, concurrency }] },
    });
    const relay = await spawnRelay(configOf(1), dir);
    assert.equal(
      (
        await post(
          relay,
          Array.from({ length: 8 }, () => pushEvent()),
        )
      ).status,
      202,
    );
    await rx.waitFor(8);
    assert.equal(most, 1, 'one at a time at concurrency 1');
    writeRelayConfig(configOf(4), dir);
    process.kill(relay.pid, 'SIGHUP');
    await waitUntil(async () => (await configReloads(relay.debug)).success === 1, 10_000, 'reload');
    most = 0;
    assert.equal(
      (
        await post(
          relay,
          Array.from({ length: 24 }, () => pushEvent()),
        )
      ).status,
      202,
    );
    await rx.waitFor(32, 20_000);
    assert.equal(most, 4, 'four at once after the reload');
    assert.equal(await relay.kill('SIGTERM'), 0);
    await nats.stop();
  });

  it('dead letters go to <stream>-dead; the dead-letters command lists, replays and purges them', async () => {
    const nats = await startNats(requireNats());
    const rx = await scope.receiver((_req, res) => res.writeHead(500).end('broken'));
    streams += 1;
    const dir = mkdtempSync(join(tmpdir(), 'relay-nats-dead-'));
    const stream = `dead-${String(streams)}`;
    const relay = await spawnRelay(
      {
        storage: { nats: { servers: nats.urls, stream } },
        notifications: {
          endpoints: [{ name: 'ci', url: rx.url, threshold: 100, retry: { maxAttempts: 2 } }],
        },
      },
      dir,
    );
    const config = join(dir, 'relay.yaml');
    const [e1, e2] = [pushEvent(), pushEvent()];
    assert.equal((await post(relay, [e1, e2])).status, 202);
    await rx.waitFor(4);
    const listAll = async () => {
      const r = await runCli(['dead-letters', 'list', '--config', config]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    await waitUntil(async () => (await listAll()).length === 2, 10_000, 'two dead letters');
    const listed = await listAll();
    assert.deepEqual(
      listed.map((d) => [d['endpoint'], d['eventId'], d['action'], d['attempts']]),
      [
        ['ci', e1['id'], 'push', 2],
        ['ci', e2['id'], 'push', 2],
      ],
    );
    assert.match(String(listed[0]?.['error']), /500 Internal Server Error/);
    const since = await runCli([
      'dead-letters',
      'list',
      '--since',
      '2099-01-01',
      '--config',
      config,
    ]);
    assert.equal(since.stdout, '');
    assert.equal(since.stderr, '0 dead letters\n');
    const unknown = await runCli([
      'dead-letters',
      'list',
      '--endpoint',
      'nope',
      '--config',
      config,
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--endpoint "nope": no such endpoint .*known: ci/);

    // Replayed into the running relay, the receiver fixed, within the re-send window.
    rx.respondWith(undefined);
    const replay = await runCli(['dead-letters', 'replay', '--endpoint', 'ci', '--config', config]);
    assert.equal(replay.stdout.trim(), '2 dead letters queued again');
    await rx.waitFor(6);
    assert.deepEqual(rx.ids().slice(4), [e1['id'], e2['id']]);
    assert.deepEqual(await listAll(), []);

    rx.respondWith((_req, res) => res.writeHead(500).end());
    assert.equal((await post(relay, [pushEvent()])).status, 202);
    await waitUntil(async () => (await listAll()).length === 1, 10_000, 'a third dead letter');
    const purge = await runCli(['dead-letters', 'purge', '--config', config]);
    assert.equal(purge.stdout.trim(), '1 dead letters purged');
    assert.deepEqual(await listAll(), []);
    const journal = await runCli(['journal', 'status', '--config', config]);
    assert.equal(journal.code, 2);
    assert.match(journal.stderr, new RegExp(`storage.nats: there is no journal; .*${stream}`));
    assert.equal(await relay.kill('SIGTERM'), 0);
    await nats.stop();
    const gone = await runCli(['dead-letters', 'list', '--config', config]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^storage.nats: cannot use nats:\/\/127.0.0.1:\d+: /);
  });

  it('TLS with a private CA and NKey authentication', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-nats-tls-'));
    makeTestCertificates(dir);
    const user = createUser();
    writeFileSync(join(dir, 'relay.nk'), `${new TextDecoder().decode(user.getSeed())}\n`);
    const nats = await startNats(requireNats(), 1, [
      `tls { cert_file: "${join(dir, 'server.pem')}", key_file: "${join(dir, 'server.key')}" }`,
      `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`,
    ]);
    const rx = await scope.receiver();
    streams += 1;
    const nkey = join(dir, 'relay.nk');
    const base = {
      servers: nats.urls.map((u) => u.replace('nats://', 'tls://')),
      stream: `tls-${String(streams)}`,
    };
    const relay = await spawnRelay(
      {
        storage: { nats: { ...base, nkey, tls: { ca: join(dir, 'ca.pem') } } },
        notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
      },
      mkdtempSync(join(tmpdir(), 'relay-nats-tls-a-')),
    );
    const event = pushEvent();
    assert.equal((await post(relay, [event])).status, 202);
    await rx.waitFor(1);
    assert.deepEqual(rx.ids(), [event['id']]);
    assert.equal(await relay.kill('SIGTERM'), 0);
    // Without the CA the server is not trusted; without the key the server refuses.
    for (const [nats2, why] of [
      [{ ...base, nkey }, /self.signed|unable to verify|certificate/i],
      [{ ...base, tls: { ca: join(dir, 'ca.pem') } }, /authorization/i],
    ] as const) {
      const config = join(mkdtempSync(join(tmpdir(), 'relay-nats-tls-b-')), 'relay.yaml');
      writeFileSync(
        config,
        stringify({
          storage: { nats: nats2 },
          notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
        }),
      );
      const refused = await runCli(['--config', config]);
      assert.equal(refused.code, 1);
      // The fatal line of the relay's JSON log.
      assert.match(
        refused.stdout,
        /"msg":"cannot start: storage.nats: cannot use tls:\/\/127.0.0.1:\d+: /,
      );
      assert.match(refused.stdout, why);
    }
    await nats.stop();
  });

  it('NATS down: ingest answers 503 and is not ready; back: delivery resumes by itself', async () => {
    const nats = await startNats(requireNats());
    const node = nats.nodes[0];
    assert.ok(node);
    const rx = await scope.receiver();
    streams += 1;
    const relay = await spawnRelay(
      {
        storage: { nats: { servers: nats.urls, stream: `down-${String(streams)}` } },
        notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
      },
      mkdtempSync(join(tmpdir(), 'relay-nats-down-')),
    );
    const first = pushEvent();
    assert.equal((await post(relay, [first])).status, 202);
    await rx.waitFor(1);
    await node.kill();
    const refused = await post(relay, [pushEvent()]);
    assert.equal(refused.status, 503);
    assert.ok(refused.headers.get('retry-after'));
    const body = (await refused.json()) as { error: string; message: string };
    assert.equal(body.error, 'storage_unavailable');
    assert.match(body.message, /NATS JetStream did not store the events/);
    assert.equal((await fetch(`${relay.debug}/readyz`)).status, 503);
    assert.match(await (await fetch(`${relay.debug}/metrics`)).text(), /relay_nats_connected 0\n/);
    await node.restart();
    for (let i = 0; !(await fetch(`${relay.debug}/readyz`)).ok; i++) {
      assert.ok(i < 300, 'ready again once NATS is back');
      await new Promise((r) => setTimeout(r, 100));
    }
    const back = await (await fetch(`${relay.debug}/metrics`)).text();
    assert.match(back, /relay_nats_connected 1\n/);
    assert.match(back, /relay_nats_reconnects_total 1\n/);
    const later = pushEvent();
    assert.equal((await post(relay, [later])).status, 202);
    await waitUntil(() => rx.ids().includes(String(later['id'])), 30_000, 'delivery resumed');
    // A server killed at once may not have kept its last acknowledgement: at least once.
    assert.deepEqual(
      [...new Set(rx.ids())].sort(),
      [String(first['id']), String(later['id'])].sort(),
      'the refused event was never accepted',
    );
    assert.equal(await relay.kill('SIGTERM'), 0);
    await nats.stop();
  });
});
