import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Breaker, type BackoffPolicy } from '../../../src/endpoint/breaker.ts';
import { Delivery } from '../../../src/endpoint/delivery.ts';
import { RetryingSink, type RetryLimits } from '../../../src/endpoint/retry.ts';
import type { Logger } from 'pino';
import type { RelayEvent } from '../../../src/core/event.ts';
import { RESOLVED, type Sink } from '../../../src/core/sink.ts';
import { FakeClock, memoryLogger, settle } from '../../support/helpers.ts';
import {
  DeliveryError,
  FormatError,
  GaveUpError,
  SinkClosedError,
} from '../../../src/core/errors.ts';

const fixed = (delayMs: number): BackoffPolicy => ({ strategy: 'fixed', delayMs });

const event = (id: string): RelayEvent => ({
  id,
  envelope: JSON.stringify({ events: [{ id }] }),
  acceptedAt: 0,
});

const one = (e: RelayEvent): Delivery => new Delivery([e]);

/** A RetryingSink for endpoint "ep" on `clock`, logging into memory unless given a logger. */
function retrying(
  clock: FakeClock,
  next: Sink<Delivery>,
  breaker: Breaker,
  opts: { limits?: RetryLimits; log?: Logger } = {},
): RetryingSink {
  return new RetryingSink({
    endpoint: 'ep',
    next,
    breaker,
    clock,
    log: opts.log ?? memoryLogger().log,
    ...(opts.limits === undefined ? {} : { limits: opts.limits }),
  });
}

/** A sink that records the clock at each attempt and fails while `failing()` says so. */
function flakySink(
  clock: FakeClock,
  failing: (attempt: number) => boolean,
  error: () => Error = () =>
    new DeliveryError('ep', 'RELAY_HTTP_STATUS', 'answered 500 Internal Server Error', {
      status: 500,
    }),
) {
  const attempts: { id: string; at: number }[] = [];
  let destroyed = false;
  const sink: Sink<Delivery> = {
    write(d) {
      attempts.push({ id: d.id, at: clock.now() });
      if (failing(attempts.length)) return Promise.reject(error());
      return RESOLVED;
    },
    close: () => RESOLVED,
    destroy() {
      destroyed = true;
    },
  };
  return { sink, attempts, isDestroyed: () => destroyed };
}

describe('Breaker (the registry retry policy)', () => {
  it('retries at once until threshold failures, then once per backoff', () => {
    const b = new Breaker(3, fixed(4000));
    assert.equal(b.delay(0), 0);
    b.failure(0);
    b.failure(15);
    assert.equal(b.delay(20), 0, 'below threshold: immediate');
    b.failure(33);
    assert.equal(b.delay(33), 4000);
    assert.equal(b.delay(2033), 2000);
    assert.equal(b.delay(4033), 0);
    b.failure(4033);
    assert.equal(b.delay(4033), 4000, 'still over threshold: next attempt a backoff later');
    b.success();
    assert.equal(b.delay(4034), 0, 'a success resets the count');
    assert.equal(b.consecutiveFailures, 0);
  });
});

describe('RetryingSink', () => {
  it('reproduces the registry timing: threshold 3, backoff 4s → +0, +0, +0, +4s, +8s', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const { log, lines } = memoryLogger();
    const flaky = flakySink(clock, (n) => n <= 4);
    const sink = retrying(clock, flaky.sink, new Breaker(3, fixed(4000)), { log });
    let done = false;
    const writing = sink.write(one(event('e1'))).then(() => (done = true));
    await settle();
    assert.deepEqual(
      flaky.attempts.map((a) => a.at - t0),
      [0, 0, 0],
    );
    await clock.advance(3999);
    assert.equal(flaky.attempts.length, 3, 'nothing before the backoff has passed');
    await clock.advance(1);
    assert.deepEqual(
      flaky.attempts.map((a) => a.at - t0),
      [0, 0, 0, 4000],
    );
    assert.equal(done, false);
    await clock.advance(4000);
    await writing;
    assert.deepEqual(
      flaky.attempts.map((a) => a.at - t0),
      [0, 0, 0, 4000, 8000],
    );
    assert.ok(
      flaky.attempts.every((a) => a.id === 'e1'),
      'always the same event',
    );
    // One log line per failed attempt, naming event, attempt and status.
    const failures = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      failures.map((f) => [f['eventId'], f['attempt'], f['status'], f['code']]),
      [1, 2, 3, 4].map((n) => ['e1', n, 500, 'RELAY_HTTP_STATUS']),
    );

    // The success reset the breaker: the next event's first failure is retried at once.
    const again = flakySink(clock, (n) => n === 1);
    const sink2 = retrying(clock, again.sink, new Breaker(3, fixed(4000)), { log });
    await sink2.write(one(event('e2')));
    assert.equal(again.attempts.length, 2);
  });

  it('never gives up by itself; destroy ends the retries and rejects', async () => {
    const clock = new FakeClock();
    const flaky = flakySink(clock, () => true);
    const sink = retrying(clock, flaky.sink, new Breaker(2, fixed(1000)));
    const writing = sink.write(one(event('e1')));
    await clock.advance(60 * 60 * 1000);
    assert.equal(flaky.attempts.length, 2 + 3600, 'one attempt per second for an hour');
    sink.destroy();
    await assert.rejects(writing, SinkClosedError);
    assert.equal(flaky.isDestroyed(), true, 'destroy reaches the wrapped sink');
    await clock.advance(10_000);
    assert.equal(flaky.attempts.length, 3602);
    assert.equal(clock.pendingTimers, 0, 'no timer left behind');
  });

  it('gives up at retry.maxAttempts with the last error, then takes the next event', async () => {
    const clock = new FakeClock();
    const flaky = flakySink(clock, (n) => n <= 3);
    const sink = retrying(clock, flaky.sink, new Breaker(10, fixed(1000)), {
      limits: { maxAttempts: 3 },
    });
    const err = await sink.write(one(event('e1'))).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof GaveUpError, 'a GaveUpError');
    assert.equal(err.attempts, 3);
    assert.match(err.message, /retry\.maxAttempts/);
    assert.match(err.lastError, /500 Internal Server Error/);
    await sink.write(one(event('e2')));
    assert.deepEqual(
      flaky.attempts.map((a) => a.id),
      ['e1', 'e1', 'e1', 'e2'],
    );
  });

  it('gives up on retry.maxAge before the next attempt, keeping the last error', async () => {
    const clock = new FakeClock();
    const flaky = flakySink(clock, () => true);
    const sink = retrying(clock, flaky.sink, new Breaker(1, fixed(1000)), {
      limits: { maxAgeMs: 5000 },
    });
    const accepted = { ...event('old'), acceptedAt: clock.now() };
    let failure: unknown;
    const writing = sink.write(one(accepted)).catch((e: unknown) => (failure = e));
    const outcome = (): unknown => failure;
    await clock.advance(4999);
    assert.equal(outcome(), undefined, 'younger than maxAge: still retrying');
    assert.equal(flaky.attempts.length, 5, 'one attempt a second');
    await clock.advance(1);
    await writing;
    const error = outcome();
    assert.ok(error instanceof GaveUpError);
    assert.match(error.message, /retry\.maxAge/);
    assert.match(error.lastError, /accepted 5000 ms ago.*last attempt: answered 500/);
    assert.equal(error.attempts, 5, 'no attempt is made once the event is too old');
  });

  it('dead-letters an event older than retry.maxAge before its first attempt, healthy endpoint or not', async () => {
    const clock = new FakeClock();
    const flaky = flakySink(clock, () => false);
    const sink = retrying(clock, flaky.sink, new Breaker(1, fixed(1000)), {
      limits: { maxAgeMs: 5000 },
    });
    const old = { ...event('stale'), acceptedAt: clock.now() - 5000 };
    await assert.rejects(sink.write(one(old)), (err: unknown) => {
      assert.ok(err instanceof GaveUpError);
      assert.equal(err.attempts, 0);
      assert.match(err.message, /retry\.maxAge/);
      return true;
    });
    assert.equal(flaky.attempts.length, 0, 'the endpoint never saw it');
    await sink.write(one({ ...event('fresh'), acceptedAt: clock.now() - 4999 }));
    assert.deepEqual(
      flaky.attempts.map((a) => a.id),
      ['fresh'],
    );
  });
});

describe('Breaker: exponential backoff and Retry-After', () => {
  it('doubles from initial past the threshold, capped at max, shortened by jitter', () => {
    const draws = [0, 0.5, 1, 0, 0, 0, 0];
    const b = new Breaker(
      2,
      { strategy: 'exponential', initialMs: 1000, maxMs: 5000, jitter: 0.5 },
      () => draws.shift() ?? 0,
    );
    b.failure(0);
    assert.equal(b.delay(0), 0, 'below threshold: immediate, as the registry does');
    const delays: number[] = [];
    for (let t = 0; delays.length < 6; t += 100_000) {
      b.failure(t);
      delays.push(b.delay(t));
    }
    // 1000 (draw 0), 2000×(1−0.25), 4000×(1−0.5), then 8000 → capped at 5000.
    assert.deepEqual(delays, [1000, 1500, 2000, 5000, 5000, 5000]);
    b.success();
    b.failure(0);
    assert.equal(b.delay(0), 0, 'a success starts over');
  });

  it('holds the next attempt until Retry-After, even below the threshold', () => {
    const b = new Breaker(10, fixed(1000));
    b.failure(5000, 30_000);
    assert.equal(b.delay(5000), 30_000);
    assert.equal(b.delay(20_000), 15_000);
    assert.equal(b.backoffMs, 30_000);
    b.failure(35_000);
    assert.equal(b.delay(35_000), 0, 'a failure without Retry-After lifts the hold');
  });
});

describe('RetryingSink: Retry-After and formats', () => {
  const busy = (retryAfterMs: number) => () =>
    new DeliveryError('ep', 'RELAY_HTTP_STATUS', 'answered 429 Too Many Requests', {
      status: 429,
      retryAfterMs,
    });

  it('waits what a 429 asked for, then retries at once again', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const flaky = flakySink(clock, (n) => n === 1, busy(7000));
    const sink = retrying(clock, flaky.sink, new Breaker(10, fixed(1000)), {
      limits: { maxRetryAfterMs: 60_000 },
    });
    const writing = sink.write(one(event('e1')));
    await clock.advance(6999);
    assert.equal(flaky.attempts.length, 1, 'nothing before Retry-After has passed');
    await clock.advance(1);
    await writing;
    assert.deepEqual(
      flaky.attempts.map((a) => a.at - t0),
      [0, 7000],
    );
  });

  it('caps Retry-After at retry.maxRetryAfter', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const flaky = flakySink(clock, (n) => n === 1, busy(3_600_000));
    const sink = retrying(clock, flaky.sink, new Breaker(10, fixed(1000)), {
      limits: { maxRetryAfterMs: 300_000 },
    });
    const writing = sink.write(one(event('e1')));
    await clock.advance(300_000);
    await writing;
    assert.deepEqual(
      flaky.attempts.map((a) => a.at - t0),
      [0, 300_000],
    );
  });

  it('gives up at once on a delivery its format cannot render', async () => {
    const clock = new FakeClock();
    const flaky = flakySink(
      clock,
      () => true,
      () => new FormatError('event e1 is not a valid CloudEvent'),
    );
    const sink = retrying(clock, flaky.sink, new Breaker(10, fixed(1000)));
    const err = await sink.write(one(event('e1'))).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof GaveUpError);
    assert.match(err.message, /\(format\)/);
    assert.equal(flaky.attempts.length, 1, 'no retry: no attempt could succeed');
  });
});
