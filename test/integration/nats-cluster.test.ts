// The failover promise of several relays on one JetStream, at the scale the README states:
// a 3-node cluster (streams and consumers R3), 3 relay processes, 3 receivers (one failing
// 30 % of requests, one down for the first half). Concurrent clients post 10,000 events
// round-robin and re-send every 5th to another relay; mid-stream one relay is SIGKILLed,
// then one NATS node. Real processes throughout, each killed by its pid.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  closedAfterTests,
  envelope,
  pushEvent,
  V1,
  waitUntil,
  type Received,
} from '../support/helpers.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import { spawnRelay, type RelayProcess } from '../support/relay-process.ts';

const scope = closedAfterTests();

const EVENTS = 10_000;
const CLIENTS = 8;

/** A receiver that records the event ids of the requests it answered 2xx, in order. */
async function countingReceiver(fail: (n: number) => 'ok' | 'error' | 'drop') {
  const delivered: string[] = [];
  let n = 0;
  const rx = await scope.receiver((req: Received, res: ServerResponse) => {
    const outcome = fail(n++);
    if (outcome === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (outcome === 'error') {
      res.writeHead(500).end('flaky');
      return;
    }
    for (const e of (JSON.parse(req.body) as { events: { id: string }[] }).events) {
      delivered.push(e.id);
    }
    res.writeHead(200).end();
  });
  return { rx, delivered };
}

describe('NATS JetStream cluster failover', { skip: natsSkip }, () => {
  it('R3 cluster, 3 relays, 3 receivers, 10,000 events: a relay and a NATS node killed, nothing lost, order kept', async (t) => {
    const nats = await startNats(requireNats(), 3);
    let posted = 0;
    const half = () => posted < EVENTS / 2;
    const receivers = {
      steady: await countingReceiver(() => 'ok'),
      // 3 of every 10 requests answered 500, spread over the run.
      flaky: await countingReceiver((n) => ((n * 7) % 10 < 3 ? 'error' : 'ok')),
      // Connections cut until half the events are posted.
      late: await countingReceiver(() => (half() ? 'drop' : 'ok')),
    };
    const config = {
      storage: { nats: { servers: nats.urls, stream: 'cluster', replicas: 3, ackWait: '2s' } },
      notifications: {
        endpoints: Object.entries(receivers).map(([name, r]) => ({
          name,
          url: r.rx.url,
          threshold: 3,
          backoff: '50ms',
        })),
      },
    };
    const relays: (RelayProcess | undefined)[] = [];
    for (const name of ['a', 'b', 'c']) {
      relays.push(await spawnRelay(config, mkdtempSync(join(tmpdir(), `relay-cluster-${name}-`))));
    }

    /** Posts to relay `start`, or the next live one while refused: returns once one took it. */
    const postOnce = async (event: Record<string, unknown>, start: number): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        const relay = relays[(start + attempt) % relays.length];
        if (relay !== undefined) {
          try {
            const res = await fetch(`${relay.ingest}/events`, {
              method: 'POST',
              headers: { 'content-type': V1 },
              body: envelope(event),
            });
            await res.arrayBuffer();
            if (res.status === 202) return;
            // 503 while NATS elects a new leader: the registry retries, and so do we.
            assert.equal(res.status, 503, `relay answered ${String(res.status)}`);
          } catch {
            // The relay was killed under the request: try another, as a load balancer would.
          }
        }
        assert.ok(attempt < 2000, 'no relay accepted the event');
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    const byClient: string[][] = Array.from({ length: CLIENTS }, () => []);
    let resent = 0;
    const events = Array.from({ length: EVENTS }, () => pushEvent());
    const started = Date.now();
    let relayKilled = false;
    let natsKilled = false;
    await Promise.all(
      byClient.map(async (mine, client) => {
        for (let i = client; i < EVENTS; i += CLIENTS) {
          const event = events[i] as Record<string, unknown>;
          await postOnce(event, i);
          mine.push(String(event['id']));
          posted += 1;
          if (i % 5 === 4) {
            // The registry's re-send after a lost answer, to whichever relay it reaches.
            await postOnce(event, i + 1);
            resent += 1;
          }
          if (!relayKilled && posted >= EVENTS / 3) {
            relayKilled = true;
            const victim = relays[0];
            relays[0] = undefined;
            await victim?.kill('SIGKILL');
          }
          if (!natsKilled && posted >= (2 * EVENTS) / 3) {
            natsKilled = true;
            await nats.nodes[0]?.kill();
          }
        }
      }),
    );
    t.diagnostic(
      `posted ${String(EVENTS)} events + ${String(resent)} re-sends in ${String(Date.now() - started)} ms`,
    );
    assert.equal(resent, EVENTS / 5);
    const accepted = byClient.flat();
    assert.equal(accepted.length, EVENTS);

    for (const [name, { delivered }] of Object.entries(receivers)) {
      await waitUntil(
        () => new Set(delivered).size >= EVENTS,
        180_000,
        `${name}: every accepted event delivered (${String(new Set(delivered).size)} so far)`,
      );
      const unique = new Set(delivered);
      assert.deepEqual(
        accepted.filter((id) => !unique.has(id)),
        [],
        `${name}: accepted events missing`,
      );
      assert.equal(unique.size, EVENTS, `${name}: nothing delivered that was not accepted`);
      // One request in flight per endpoint (concurrency 1); a killed relay and a killed
      // NATS node can each leave one delivery unacknowledged, to be made again.
      const duplicates = delivered.length - unique.size;
      t.diagnostic(
        `${name}: all delivered after ${String(Date.now() - started)} ms, ${String(duplicates)} duplicates`,
      );
      assert.ok(duplicates <= 2, `${name}: ${String(duplicates)} duplicates`);
      // Per-endpoint order: what one client had accepted before posting the next event
      // is in the stream ahead of it, so it reaches every receiver first.
      const position = new Map<string, number>();
      delivered.forEach((id, i) => {
        if (!position.has(id)) position.set(id, i);
      });
      for (const mine of byClient) {
        const order = mine.map((id) => position.get(id) ?? -1);
        assert.ok(
          order.every((p, i) => i === 0 || p > (order[i - 1] ?? -1)),
          `${name}: a client's events out of order`,
        );
      }
    }
    for (const r of relays) if (r !== undefined) assert.equal(await r.kill('SIGTERM'), 0);
    await nats.stop();
  });
});
