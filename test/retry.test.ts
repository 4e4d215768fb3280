import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Breaker } from '../src/endpoint/breaker.ts';
import { DeliveryError } from '../src/endpoint/http.ts';
import { GaveUpError, RetryingSink } from '../src/endpoint/retry.ts';
import type { RelayEvent } from '../src/event.ts';
import { RESOLVED, SinkClosedError, type Sink } from '../src/sink.ts';
import { FakeClock, memoryLogger, settle } from './helpers.ts';

const event = (id: string): RelayEvent => ({
  id,
  action: 'push',
  mediaType: undefined,
  envelope: JSON.stringify({ events: [{ id }] }),
  acceptedAt: 0,
});

/** A sink that records the clock at each attempt and fails while `failing()` says so. */
function flakySink(clock: FakeClock, failing: (attempt: number) => boolean) {
  const attempts: { id: string; at: number }[] = [];
  let destroyed = false;
  const sink: Sink = {
    write(e) {
      attempts.push({ id: e.id, at: clock.now() });
      if (failing(attempts.length)) {
        return Promise.reject(
          new DeliveryError('ep', 'RELAY_HTTP_STATUS', 'answered 500 Internal Server Error', {
            status: 500,
          }),
        );
      }
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
    const b = new Breaker(3, 4000);
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
    const sink = new RetryingSink({
      endpoint: 'ep',
      next: flaky.sink,
      breaker: new Breaker(3, 4000),
      clock,
      log,
    });
    let done = false;
    const writing = sink.write(event('e1')).then(() => (done = true));
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
    const sink2 = new RetryingSink({
      endpoint: 'ep',
      next: again.sink,
      breaker: new Breaker(3, 4000),
      clock,
      log,
    });
    await sink2.write(event('e2'));
    assert.equal(again.attempts.length, 2);
  });

  it('never gives up by itself; destroy ends the retries and rejects', async () => {
    const clock = new FakeClock();
    const flaky = flakySink(clock, () => true);
    const sink = new RetryingSink({
      endpoint: 'ep',
      next: flaky.sink,
      breaker: new Breaker(2, 1000),
      clock,
      log: memoryLogger().log,
    });
    const writing = sink.write(event('e1'));
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
    const sink = new RetryingSink({
      endpoint: 'ep',
      next: flaky.sink,
      breaker: new Breaker(10, 1000),
      clock,
      log: memoryLogger().log,
      limits: { maxAttempts: 3 },
    });
    const err = await sink.write(event('e1')).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof GaveUpError, 'a GaveUpError');
    assert.equal(err.attempts, 3);
    assert.match(err.message, /retry\.maxAttempts/);
    assert.match(err.lastError, /500 Internal Server Error/);
    await sink.write(event('e2'));
    assert.deepEqual(
      flaky.attempts.map((a) => a.id),
      ['e1', 'e1', 'e1', 'e2'],
    );
  });

  it('gives up once an attempt fails after retry.maxAge since acceptance', async () => {
    const clock = new FakeClock();
    const flaky = flakySink(clock, () => true);
    const sink = new RetryingSink({
      endpoint: 'ep',
      next: flaky.sink,
      breaker: new Breaker(1, 1000),
      clock,
      log: memoryLogger().log,
      limits: { maxAgeMs: 5000 },
    });
    const accepted = { ...event('old'), acceptedAt: clock.now() };
    let failure: unknown;
    const writing = sink.write(accepted).catch((e: unknown) => (failure = e));
    const outcome = (): unknown => failure;
    await clock.advance(4999);
    assert.equal(outcome(), undefined, 'younger than maxAge: still retrying');
    assert.equal(flaky.attempts.length, 5, 'one attempt a second');
    await clock.advance(1);
    await writing;
    const error = outcome();
    assert.ok(error instanceof GaveUpError);
    assert.match(error.message, /retry\.maxAge/);
    assert.equal(error.attempts, 6);
  });
});
