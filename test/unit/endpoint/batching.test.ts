import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseRetryAfter } from '../../../src/endpoint/http.ts';
import {
  FakeClock,
  closedAfterTests,
  envelope,
  pushEvent,
  settle,
  waitUntil,
  type Receiver,
} from '../../support/helpers.ts';

const scope = closedAfterTests();
const sizes = (rx: Receiver): number[] =>
  rx.requests.map((r) => (JSON.parse(r.body) as { events: unknown[] }).events.length);

/** A receiver that answers only when told, counting how many requests are open at once. */
async function heldReceiver() {
  const held: ServerResponse[] = [];
  let open = 0;
  let maxOpen = 0;
  const rx = await scope.receiver((_req, res) => {
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    res.on('finish', () => (open -= 1));
    held.push(res);
  });
  return {
    rx,
    held,
    maxOpen: () => maxOpen,
    release(): void {
      for (const res of held.splice(0)) res.writeHead(200).end();
    },
  };
}

describe('batching', () => {
  it('sends maxEvents at once, and what is left after maxWait (fake clock)', async () => {
    const clock = new FakeClock();
    const rx = await scope.receiver();
    const relay = await scope.relay(
      [{ name: 'ep', url: rx.url, batch: { maxEvents: 3, maxWait: '1s' } }],
      {},
      { clock },
    );
    const events = Array.from({ length: 7 }, () => pushEvent());
    assert.equal((await relay.post(envelope(...events))).status, 202);
    await rx.waitFor(2);
    await settle(20);
    assert.deepEqual(sizes(rx), [3, 3], 'two full batches at once; the seventh waits');
    await clock.advance(999);
    await settle(20);
    assert.equal(rx.requests.length, 2, 'not before maxWait');
    await clock.advance(1);
    await rx.waitFor(3);
    assert.deepEqual(sizes(rx), [3, 3, 1]);
    assert.deepEqual(
      rx.ids(),
      events.map((e) => e['id']),
      'in order',
    );

    // Two events, half of maxWait, a third one: the batch is full, it goes at once.
    await relay.post(envelope(pushEvent(), pushEvent()));
    await clock.advance(500);
    await relay.post(envelope(pushEvent()));
    await rx.waitFor(4);
    assert.deepEqual(sizes(rx), [3, 3, 1, 3]);
    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    assert.match(metrics, /relay_request_events_count\{endpoint="ep"\} 4/);
    assert.match(metrics, /relay_request_events_sum\{endpoint="ep"\} 10/);
  });

  it('without maxWait, packs what arrived while a request was in flight', async () => {
    const held = await heldReceiver();
    const relay = await scope.relay([{ name: 'ep', url: held.rx.url, batch: { maxEvents: 50 } }]);
    await relay.post(envelope(pushEvent()));
    await held.rx.waitFor(1);
    for (let i = 0; i < 5; i++) await relay.post(envelope(pushEvent()));
    held.release();
    await held.rx.waitFor(2);
    held.release();
    assert.deepEqual(sizes(held.rx), [1, 5]);
  });

  it('a drain sends a gathering batch without waiting for maxWait', async () => {
    const clock = new FakeClock();
    const rx = await scope.receiver();
    const relay = await scope.relay(
      [{ name: 'ep', url: rx.url, batch: { maxEvents: 10, maxWait: '1h' } }],
      {},
      { clock },
    );
    await relay.post(envelope(pushEvent(), pushEvent()));
    await settle(20);
    assert.equal(rx.requests.length, 0);
    const report = await relay.stop();
    assert.equal(report.drained, true);
    assert.deepEqual(sizes(rx), [2]);
  });

  it('batches through the journal and acknowledges every event of a batch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-batch-'));
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const rx = await scope.receiver();
    const relay = await scope.relay([{ name: 'ep', url: rx.url, batch: { maxEvents: 25 } }], {
      storage: { path: dir, window: 16 },
    });
    const ids: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const events = Array.from({ length: 10 }, () => pushEvent());
      ids.push(...events.map((e) => e['id']));
      assert.equal((await relay.post(envelope(...events))).status, 202);
    }
    await waitUntil(() => rx.ids().length === 100, 10_000, '100 events');
    assert.deepEqual(rx.ids(), ids);
    assert.ok(sizes(rx).every((n) => n <= 25));
    await waitUntil(() => relay.relay.journal?.pendingCounts().size === 0, 5000, 'all acked');
  });
});

describe('concurrency', () => {
  it('keeps up to `concurrency` requests in flight, never more', async () => {
    const held = await heldReceiver();
    const events = Array.from({ length: 8 }, () => pushEvent());
    await scope.relay([{ name: 'ep', url: held.rx.url, concurrency: 4 }]).then((relay) =>
      relay.post(envelope(...events)).then((r) => {
        assert.equal(r.status, 202);
      }),
    );
    await held.rx.waitFor(4);
    await settle(20);
    assert.equal(held.held.length, 4, 'four at once');
    held.release();
    await held.rx.waitFor(8);
    held.release();
    assert.equal(held.maxOpen(), 4);
    assert.deepEqual(new Set(held.rx.ids()), new Set(events.map((e) => e['id'])));
  });

  it('with the default of 1, one request at a time, in order', async () => {
    const held = await heldReceiver();
    const relay = await scope.relay([{ name: 'ep', url: held.rx.url }]);
    const events = Array.from({ length: 3 }, () => pushEvent());
    await relay.post(envelope(...events));
    for (let n = 1; n <= 3; n++) {
      await held.rx.waitFor(n);
      await settle(10);
      assert.equal(held.held.length, 1);
      held.release();
    }
    assert.equal(held.maxOpen(), 1);
    assert.deepEqual(
      held.rx.ids(),
      events.map((e) => e['id']),
    );
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    const now = Date.parse('2026-11-23T10:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now), 0, 'past: at once');
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  it('a 503 with Retry-After holds the next attempt until then (fake clock)', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const rx = await scope.receiver((_req, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(503, { 'retry-after': '30' }).end('maintenance');
      else res.writeHead(200).end();
    });
    const relay = await scope.relay([{ name: 'ep', url: rx.url }], {}, { clock });
    await relay.post(envelope(pushEvent()));
    await rx.waitFor(1);
    await settle(20);
    await clock.advance(29_999);
    await settle(20);
    assert.equal(rx.requests.length, 1, 'no retry before Retry-After');
    await clock.advance(1);
    await rx.waitFor(2);
    const warn = relay.lines.find((l) => l.includes('"retryAfterMs":30000'));
    assert.ok(warn, 'the failure is logged with the wait asked for');
    assert.match(warn, /answered 503 Service Unavailable: maintenance/);
  });
});

describe('exponential backoff in a running relay', () => {
  it('waits initial, then twice as long each time, up to max (fake clock, no jitter)', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const at: number[] = [];
    const rx = await scope.receiver((_req, res) => {
      at.push(clock.now() - t0);
      // Failing until the fifth attempt; the test must end delivered, or the drain waits
      // on the fake clock.
      res.writeHead(at.length < 5 ? 500 : 200).end();
    });
    const relay = await scope.relay(
      [
        {
          name: 'ep',
          url: rx.url,
          threshold: 1,
          backoff: { strategy: 'exponential', initial: '1s', max: '4s', jitter: 0 },
        },
      ],
      {},
      { clock },
    );
    await relay.post(envelope(pushEvent()));
    await rx.waitFor(1);
    for (const [n, wait] of [1000, 2000, 4000, 4000].entries()) {
      await settle(20);
      await clock.advance(wait - 1);
      await settle(20);
      assert.equal(rx.requests.length, n + 1, `no attempt before ${String(wait)} ms`);
      await clock.advance(1);
      await rx.waitFor(n + 2);
    }
    assert.deepEqual(at, [0, 1000, 3000, 7000, 11_000]);
  });
});
