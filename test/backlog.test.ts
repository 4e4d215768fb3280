// The delivery loop's contract, whatever the backlog says about itself: each pass delivers,
// waits on a timer or an event, or stops. A backlog whose counts are off (as the journal's
// were when an event sat between `take` and in-flight) must not make it spin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BacklogQueue, type DeliveryPolicy } from '../src/endpoint/backlog.ts';
import type { Delivery } from '../src/endpoint/delivery.ts';
import type { RelayEvent } from '../src/event.ts';
import { GaveUpError } from '../src/endpoint/retry.ts';
import type { Sink } from '../src/sink.ts';
import { EndpointStats } from '../src/metrics/endpoint-stats.ts';
import { createMetrics } from '../src/metrics/registry.ts';
import { FakeClock, memoryLogger, settle } from './helpers.ts';

/** A backlog that claims `extra` more waiting events than it can hand out. */
class MiscountingBacklog extends BacklogQueue {
  readonly events: RelayEvent[] = [];
  delivered_: string[] = [];
  extra = 5;
  get pending(): number {
    return this.events.length + this.inFlightEvents + this.extra;
  }
  protected keep(event: RelayEvent): void {
    this.events.push(event);
  }
  protected take(): RelayEvent | undefined {
    return this.events.shift();
  }
  protected peek(): RelayEvent | undefined {
    return this.events[0];
  }
  protected delivered(event: RelayEvent): void {
    this.delivered_.push(event.id);
  }
  dead = 0;
  protected deadLettered(): void {
    this.dead += 1;
  }
  protected failed(): void {
    // Not reached here.
  }
}

function build(policy: DeliveryPolicy, next: Sink<Delivery>, clock = new FakeClock()) {
  return new MiscountingBacklog({
    endpoint: 'ep',
    next,
    listener: new EndpointStats('ep', createMetrics(), clock),
    log: memoryLogger().log,
    clock,
    policy,
  });
}

const event = (id: string, acceptedAt = 1_000_000): RelayEvent => ({
  id,
  action: 'push',
  mediaType: undefined,
  envelope: '{}',
  acceptedAt,
});

const okSink = (seen: string[]): Sink<Delivery> => ({
  write: (d) => {
    seen.push(d.events.map((e) => e.id).join('+'));
    return Promise.resolve();
  },
  close: () => Promise.resolve(),
  destroy: () => undefined,
});

describe('BacklogQueue delivery loop', () => {
  for (const policy of [
    { maxEvents: 1, maxWaitMs: 0, concurrency: 2 },
    { maxEvents: 1, maxWaitMs: 0, concurrency: 4 },
    { maxEvents: 20, maxWaitMs: 0, concurrency: 4 },
  ]) {
    it(`returns at once when its counts are off (${JSON.stringify(policy)})`, async () => {
      const seen: string[] = [];
      const queue = build(policy, okSink(seen));
      // The old loop started workers while pending > in flight: with a count that is off it
      // never returned, and this write hung the process.
      await queue.write(event('a'));
      await settle();
      assert.deepEqual(seen, ['a']);
      assert.equal(queue.inFlight, 0);
      queue.destroy();
    });
  }

  it('a gathering batch waits on one timer, not a loop, and leaves when the timer fires', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const queue = build({ maxEvents: 10, maxWaitMs: 1000, concurrency: 4 }, okSink(seen), clock);
    await queue.write(event('a', clock.now()));
    await queue.write(event('b', clock.now()));
    await settle();
    assert.deepEqual(seen, []);
    assert.equal(clock.pendingTimers, 1, 'one timer armed');
    await clock.advance(1000);
    assert.deepEqual(seen, ['a+b']);
    queue.destroy();
  });

  it('after a defect in the pipeline it pauses on a timer before trying again', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const queue = build(
      { maxEvents: 1, maxWaitMs: 0, concurrency: 1 },
      {
        write: () => {
          calls += 1;
          return Promise.reject(new Error('defect'));
        },
        close: () => Promise.resolve(),
        destroy: () => undefined,
      },
      clock,
    );
    queue.extra = 0;
    await queue.write(event('a'));
    await queue.write(event('b'));
    await settle();
    assert.equal(calls, 1, 'one attempt, then a pause');
    assert.equal(clock.pendingTimers, 1);
    await clock.advance(1000);
    assert.equal(calls, 2, 'the next event after the pause');
    queue.destroy();
    assert.equal(clock.pendingTimers, 0, 'destroy clears the timer');
  });

  it('yields to the event loop while a long backlog settles without I/O', async () => {
    const clock = new FakeClock();
    let release = (): void => undefined;
    const first = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const queue = build(
      { maxEvents: 1, maxWaitMs: 0, concurrency: 1 },
      {
        // The first request hangs while the backlog builds up; then every event is too old
        // to attempt, so each delivery settles as a microtask.
        write: () => {
          calls += 1;
          if (calls === 1) return first;
          return Promise.reject(new GaveUpError('ep', 0, 'retry.maxAge', 'too old'));
        },
        close: () => Promise.resolve(),
        destroy: () => undefined,
      },
      clock,
    );
    queue.extra = 0;
    for (let i = 0; i < 1000; i++) await queue.write(event(`e${String(i)}`));
    await settle();
    let deadWhenIoRan = -1;
    setImmediate(() => {
      deadWhenIoRan = queue.dead;
    });
    release();
    await settle(40);
    assert.equal(queue.dead, 999, 'every event after the first dead-lettered in the end');
    assert.ok(
      deadWhenIoRan >= 0 && deadWhenIoRan < 999,
      `the event loop got a turn only after ${String(deadWhenIoRan)} dead letters`,
    );
    queue.destroy();
  });
});
