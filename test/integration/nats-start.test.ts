// Relays starting beside NATS, as a Deployment with replicas and a StatefulSet start them:
// a cluster that has just started (no leaders yet), or none listening yet. A relay keeps
// trying until storage.nats.startTimeout with /healthz answering and /readyz failing, and
// exits 1 naming the servers only after it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closedAfterTests, pushEvent, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import {
  postEvents as post,
  runCli,
  spawnRelay,
  writeRelayConfig,
} from '../support/relay-process.ts';

const scope = closedAfterTests();

describe('starting beside NATS', { skip: natsSkip }, () => {
  it('three relays started together on a 3-node cluster that has just started all come up', async () => {
    // The relays start the moment the servers listen, before JetStream has its leaders.
    const cluster = await startNats(requireNats(), 3);
    const rx = await scope.receiver();
    const config = {
      storage: { nats: { servers: cluster.urls, stream: 'together', replicas: 3 } },
      notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
    };
    const relays = await Promise.all(
      [0, 1, 2].map(() => spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-start-')))),
    );
    const sent: string[] = [];
    for (const relay of relays) {
      assert.equal((await fetch(`${relay.debug}/readyz`)).status, 200);
      const event = pushEvent();
      sent.push(String(event['id']));
      assert.equal((await post(relay, [event])).status, 202);
    }
    await waitUntil(
      () => sent.every((id) => rx.ids().includes(id)),
      30_000,
      'an event through each relay delivered',
    );
    for (const relay of relays) assert.equal(await relay.kill('SIGTERM'), 0);
    await cluster.stop();
  });

  it('NATS not up yet: alive and not ready while waiting, then ready on the same port', async () => {
    const cluster = await startNats(requireNats());
    const node = cluster.nodes[0];
    assert.ok(node);
    await node.kill();
    const rx = await scope.receiver();
    let waitingAt: string | undefined;
    let retries = 0;
    const starting = spawnRelay(
      {
        storage: { nats: { servers: cluster.urls, stream: 'later' } },
        notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
      },
      mkdtempSync(join(tmpdir(), 'relay-start-later-')),
      [],
      (line) => {
        if (typeof line['debug'] === 'string' && line['msg'] !== 'registry-relay listening') {
          waitingAt = line['debug'];
        }
        if (line['msg'] === 'NATS not usable yet: trying again until storage.nats.startTimeout') {
          retries += 1;
        }
      },
    );
    await waitUntil(() => waitingAt !== undefined && retries >= 2, 10_000, 'waiting for NATS');
    const ops = String(waitingAt);
    const health = await fetch(`${ops}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${ops}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /waiting for storage\.nats/);
    const api = await fetch(`${ops}/api/v1/endpoints`);
    assert.equal(api.status, 503);
    assert.equal(((await api.json()) as { error: string }).error, 'starting');
    await node.restart();
    const relay = await starting;
    assert.equal(relay.debug, ops, 'the relay listens where it answered while waiting');
    assert.equal((await fetch(`${relay.debug}/readyz`)).status, 200);
    const event = pushEvent();
    assert.equal((await post(relay, [event])).status, 202);
    await waitUntil(() => rx.ids().includes(String(event['id'])), 10_000, 'delivered');
    assert.equal(await relay.kill('SIGTERM'), 0);
    await cluster.stop();
  });

  it('exits 1 naming the servers once storage.nats.startTimeout has passed', async () => {
    const cluster = await startNats(requireNats());
    await cluster.stop();
    const file = writeRelayConfig(
      {
        storage: { nats: { servers: cluster.urls, stream: 'never', startTimeout: '1500ms' } },
        notifications: { endpoints: [{ name: 'ci', url: 'http://127.0.0.1:9/' }] },
      },
      mkdtempSync(join(tmpdir(), 'relay-start-never-')),
    );
    const run = await runCli(['--config', file]);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /"msg":"cannot start: storage.nats: cannot use nats:\/\/127\.0\.0\.1:\d+: .*still failing after \d+ attempts within storage\.nats\.startTimeout/,
    );
    assert.match(
      run.stdout,
      /"msg":"NATS not usable yet: trying again until storage.nats.startTimeout"/,
    );
  });
});
