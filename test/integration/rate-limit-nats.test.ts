// `rateLimit` with several relays on one NATS JetStream: the limit is each relay's own. Two
// relays in this process, each on its own fake clock, share one stream. Which relay is handed
// which message is JetStream's choice, so the test holds each relay to its own bound: at most
// its burst plus its rate for each second of its clock; and every event arrives.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock, closedAfterTests, envelope, pushEvent, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats, type NatsCluster } from '../support/nats-process.ts';

const scope = closedAfterTests();
let nats: NatsCluster | undefined;
after(async () => {
  await nats?.stop();
});

describe('rate limits on NATS', { skip: natsSkip }, () => {
  it('are per relay: each relay sends at most its burst and its rate, and every event arrives', async () => {
    nats = await startNats(requireNats());
    const rx = await scope.receiver();
    const endpoints = [
      { name: 'chat', url: rx.url, concurrency: 4, rateLimit: { requests: 5, per: '1s' } },
    ];
    const storage = { nats: { servers: nats.urls, stream: 'rate-limit', ackWait: '30s' } };
    const clocks = [new FakeClock(), new FakeClock()];
    const relays: {
      debugUrl: string;
      post: (body: string) => Promise<Response>;
      stop: () => Promise<unknown>;
    }[] = [];
    for (const clock of clocks) relays.push(await scope.relay(endpoints, { storage }, { clock }));
    const delivered = async () =>
      Promise.all(
        relays.map(
          async (r) =>
            (
              (await (await fetch(`${r.debugUrl}/api/v1/endpoints/chat`)).json()) as {
                delivered: number;
              }
            ).delivered,
        ),
      );
    /** Lets whatever the tokens allow go out, then checks each relay against its bound. */
    const settleAndCheck = async (seconds: number) => {
      await new Promise((r) => setTimeout(r, 500));
      const counts = await delivered();
      for (const [i, n] of counts.entries()) {
        assert.ok(
          n <= 5 + 5 * seconds,
          `relay ${String(i)} sent ${String(n)} in ${String(seconds)} s of its clock`,
        );
      }
      return counts;
    };
    const events = Array.from({ length: 40 }, () => pushEvent());
    for (let i = 0; i < events.length; i += 10) {
      const relay = relays[(i / 10) % 2];
      assert.ok(relay);
      assert.equal((await relay.post(envelope(...events.slice(i, i + 10)))).status, 202);
    }
    await waitUntil(() => rx.requests.length >= 5, 10_000, 'the first burst');
    await settleAndCheck(0);
    for (let s = 1; s <= 8; s++) {
      for (const clock of clocks) await clock.advance(1000);
      await settleAndCheck(s);
      if (new Set(rx.ids()).size === 40) break;
    }
    await waitUntil(() => new Set(rx.ids()).size >= 40, 10_000, 'every event');
    assert.deepEqual(
      [...new Set(rx.ids())].sort(),
      events.map((e) => String(e['id'])).sort(),
      'none lost',
    );
    const counts = await delivered();
    assert.equal((counts[0] ?? 0) + (counts[1] ?? 0), 40, 'the relays shared the work');
    // Relays first, then the servers they are connected to. A relay's drain counts the
    // stream once a second of its clock: the clocks move until both stopped.
    const drain = { done: false };
    const stopping = Promise.all(relays.map((r) => r.stop())).then(() => {
      drain.done = true;
    });
    while (!drain.done) {
      for (const clock of clocks) await clock.advance(1000);
      await new Promise((r) => setTimeout(r, 50));
    }
    await stopping;
    await nats.stop();
    nats = undefined;
  });
});
