// `rateLimit`, on a fake clock: requests leave at the configured rate after the burst, in
// order, none lost and none counted as a failure; an endpoint without a limit is not slowed;
// a batch is one request and a retry is another; the admin API shows `rate-limited`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.ts';
import { RateLimiter } from '../../../src/endpoint/rate-limit.ts';
import { FakeClock, closedAfterTests, envelope, pushEvent, settle } from '../../support/helpers.ts';

const scope = closedAfterTests();

describe('rate limits', () => {
  it('a token bucket: the burst at once, then one request per interval, in arrival order', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const limiter = new RateLimiter({ requests: 5, perMs: 1000, burst: 5 }, clock);
    const admitted: { i: number; at: number }[] = [];
    const stop = new AbortController();
    const all = Array.from({ length: 100 }, (_, i) =>
      limiter.take(stop.signal).then(({ aborted }) => {
        assert.equal(aborted, false);
        admitted.push({ i, at: clock.now() - start });
      }),
    );
    await settle();
    assert.equal(admitted.length, 5, 'the burst leaves at once');
    assert.equal(limiter.waiting, 95);
    for (let s = 1; s <= 19; s++) {
      await clock.advance(1000);
      assert.equal(admitted.length, 5 + 5 * s, `after ${String(s)} s`);
    }
    await Promise.all(all);
    assert.deepEqual(
      admitted.map((a) => a.i),
      Array.from({ length: 100 }, (_, i) => i),
      'in arrival order',
    );
    // After the burst, one every 200 ms exactly.
    for (const { i, at } of admitted.slice(5))
      assert.equal(at, (i - 4) * 200, `request ${String(i)}`);
    assert.equal(limiter.waiting, 0);
    // A quiet spell refills the bucket up to the burst, no more.
    await clock.advance(60_000);
    let quick = 0;
    for (let i = 0; i < 7; i++)
      void limiter.take(stop.signal).then(() => {
        quick += 1;
      });
    await settle();
    assert.equal(quick, 5);
    stop.abort();
    await settle();
    assert.equal(limiter.waiting, 0, 'aborted waits are given up');
  });

  it('through a relay: 100 events at 5 requests/s, in order, none lost or failed; another endpoint not slowed', async () => {
    const clock = new FakeClock();
    const limitedRx = await scope.receiver();
    const freeRx = await scope.receiver();
    const relay = await scope.relay(
      [
        { name: 'slack', url: limitedRx.url, rateLimit: { requests: 5, per: '1s' } },
        { name: 'ci', url: freeRx.url },
      ],
      { http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' } } },
      { clock },
    );
    const events = Array.from({ length: 100 }, () => pushEvent());
    assert.equal((await relay.post(envelope(...events))).status, 202);
    await freeRx.waitFor(100);
    await settle(20);
    assert.equal(limitedRx.requests.length, 5, 'the burst, and no more without time passing');
    const view = (await (await fetch(`${relay.debugUrl}/api/v1/endpoints/slack`)).json()) as {
      state: string;
      pending: number;
      failed: number;
      rateLimit: { requests: number; perSeconds: number; burst: number; waiting: number };
    };
    assert.equal(view.state, 'rate-limited');
    assert.deepEqual(
      { ...view.rateLimit, waiting: view.rateLimit.waiting > 0 },
      { requests: 5, perSeconds: 1, burst: 5, waiting: true, waitedSeconds: 0 },
    );
    assert.equal(view.pending, 95);
    for (let s = 1; s <= 19; s++) {
      await clock.advance(1000);
      await limitedRx.waitFor(5 + 5 * s);
      await settle(10);
      assert.equal(limitedRx.requests.length, 5 + 5 * s, `5 more in second ${String(s)}`);
    }
    assert.deepEqual(
      limitedRx.ids(),
      events.map((e) => e['id']),
      'in order, every one',
    );
    const after = (await (await fetch(`${relay.debugUrl}/api/v1/endpoints/slack`)).json()) as {
      state: string;
      failed: number;
      rateLimit: { waiting: number; waitedSeconds: number };
    };
    assert.equal(after.state, 'delivering');
    assert.equal(after.failed, 0, 'waiting is not failing');
    assert.equal(after.rateLimit.waiting, 0);
    // One request waits at a time (concurrency 1): 95 × 200 ms.
    assert.equal(after.rateLimit.waitedSeconds, 19);
    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    const waited = /relay_rate_limit_wait_seconds_total\{endpoint="slack"\} ([\d.]+)/.exec(metrics);
    assert.ok(Math.abs(Number(waited?.[1]) - 19) < 1e-6, 'time spent waiting is a metric');
    assert.match(metrics, /relay_rate_limit_wait_seconds_total\{endpoint="ci"\} 0/);
    assert.match(metrics, /relay_rate_limited_requests\{endpoint="slack"\} 0/);
  });

  it('a batch is one request; a retry is another', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const rx = await scope.receiver((_req, res) => {
      calls += 1;
      // The first request fails: its retry waits for a token like any request.
      res.writeHead(calls === 1 ? 503 : 200).end();
    });
    const relay = await scope.relay(
      [
        {
          name: 'ep',
          url: rx.url,
          batch: { maxEvents: 10 },
          backoff: '10ms',
          rateLimit: { requests: 1, per: '1s', burst: 1 },
        },
      ],
      {},
      { clock },
    );
    const events = Array.from({ length: 30 }, () => pushEvent());
    assert.equal((await relay.post(envelope(...events))).status, 202);
    await rx.waitFor(1);
    await settle(20);
    assert.equal(rx.requests.length, 1);
    await clock.advance(1000);
    await rx.waitFor(2);
    await settle(20);
    assert.equal(rx.requests.length, 2, 'the retry took the next token');
    await clock.advance(1000);
    await rx.waitFor(3);
    await clock.advance(1000);
    await rx.waitFor(4);
    const sizes = rx.requests.map(
      (r) => (JSON.parse(r.body) as { events: unknown[] }).events.length,
    );
    assert.deepEqual(sizes, [10, 10, 10, 10], 'the first batch twice (it failed), then two more');
    assert.deepEqual(
      [...new Set(rx.ids())],
      events.map((e) => e['id']),
    );
  });

  it('the config names what is wrong', () => {
    const config = (rateLimit: unknown) =>
      stringify({
        notifications: { endpoints: [{ name: 'ep', url: 'http://127.0.0.1:9/', rateLimit }] },
      });
    assert.throws(() => parseConfig(config({ requests: 0 }), 'c'), /rateLimit\.requests/);
    assert.throws(() => parseConfig(config({ requests: 1, per: '0s' }), 'c'), /rateLimit\.per/);
    assert.throws(() => parseConfig(config({ requests: 1, every: '1s' }), 'c'), /every/);
    assert.throws(() => parseConfig(config('5/s'), 'c'), /rateLimit/);
    const ok = parseConfig(config({ requests: 30, per: '1m' }), 'c');
    assert.deepEqual(ok.notifications.endpoints[0]?.rateLimit, {
      requests: 30,
      perMs: 60_000,
      burst: 30,
    });
  });
});
