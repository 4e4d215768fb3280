// The delivery loop's contract, whatever the backlog says about itself: each pass delivers,
// waits on a timer or an event, or stops. A backlog whose counts are off (as the journal's
// were when an event sat between being taken and being in flight) must not make it spin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delivery } from '../../../src/endpoint/delivery.ts';
import { DeliveryLoop, type DeliveryPolicy } from '../../../src/endpoint/delivery-loop.ts';
import type { RelayEvent } from '../../../src/core/event.ts';
import { EndpointStats } from '../../../src/metrics/endpoint-stats.ts';
import { createMetrics } from '../../../src/metrics/registry.ts';
import type { Sink } from '../../../src/core/sink.ts';
import type { Backlog } from '../../../src/storage/storage.ts';
import { FakeClock, memoryLogger, settle } from '../../support/helpers.ts';
import { GaveUpError } from '../../../src/core/errors.ts';

/** A backlog that claims `extra` more waiting events than it can hand out. */
class MiscountingBacklog implements Backlog {
  readonly events: RelayEvent[] = [];
  leased = 0;
  dead = 0;
  acked: string[] = [];
  extra = 5;
  onAvailable: (() => void) | undefined;
  get pending(): number {
    return this.events.length + this.leased + this.extra;
  }
  get waiting(): number {
    return this.events.length + this.extra;
  }
  add(event: RelayEvent): void {
    this.events.push(event);
    this.onAvailable?.();
  }
  peek(): RelayEvent | undefined {
    return this.events[0];
  }
  lease(max: number): RelayEvent[] {
    const out = this.events.splice(0, max);
    this.leased += out.length;
    return out;
  }
  ack(events: readonly RelayEvent[]): void {
    this.leased -= events.length;
    this.acked.push(...events.map((e) => e.id));
  }
  retryLater(events: readonly RelayEvent[]): void {
    this.leased -= events.length;
    this.events.unshift(...events);
  }
  deadLetter(events: readonly RelayEvent[]): void {
    this.leased -= events.length;
    this.dead += events.length;
  }
}

function build(policy: DeliveryPolicy, next: Sink<Delivery>, clock = new FakeClock()) {
  const backlog = new MiscountingBacklog();
  const loop = new DeliveryLoop({
    backlog,
    next,
    listener: new EndpointStats('ep', createMetrics(), clock),
    log: memoryLogger().log,
    clock,
    policy,
  });
  return { backlog, loop };
}

const event = (id: string, acceptedAt = Date.parse('2026-12-01T09:00:00.000Z')): RelayEvent => ({
  id,
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

describe('DeliveryLoop', () => {
  for (const policy of [
    { maxEvents: 1, maxWaitMs: 0, concurrency: 2 },
    { maxEvents: 1, maxWaitMs: 0, concurrency: 4 },
    { maxEvents: 20, maxWaitMs: 0, concurrency: 4 },
  ]) {
    it(`returns at once when the backlog's counts are off (${JSON.stringify(policy)})`, async () => {
      const seen: string[] = [];
      const { backlog, loop } = build(policy, okSink(seen));
      // A loop that decides by counts never returns here, and this add hangs the process.
      backlog.add(event('a'));
      await settle();
      assert.deepEqual(seen, ['a']);
      assert.deepEqual(backlog.acked, ['a']);
      assert.equal(loop.inFlight, 0);
      loop.destroy();
    });
  }

  it('a gathering batch waits on one timer, not a loop, and leaves when the timer fires', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const { backlog, loop } = build(
      { maxEvents: 10, maxWaitMs: 1000, concurrency: 4 },
      okSink(seen),
      clock,
    );
    backlog.extra = 0;
    backlog.add(event('a', clock.now()));
    backlog.add(event('b', clock.now()));
    await settle();
    assert.deepEqual(seen, []);
    assert.equal(clock.pendingTimers, 1, 'one timer armed');
    await clock.advance(1000);
    assert.deepEqual(seen, ['a+b']);
    loop.destroy();
  });

  it('after a defect in the pipeline the events wait again, and the loop pauses on a timer', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const { backlog, loop } = build(
      { maxEvents: 1, maxWaitMs: 0, concurrency: 1 },
      {
        write: () => {
          calls += 1;
          return calls === 1 ? Promise.reject(new Error('defect')) : Promise.resolve();
        },
        close: () => Promise.resolve(),
        destroy: () => undefined,
      },
      clock,
    );
    backlog.extra = 0;
    backlog.add(event('a'));
    backlog.add(event('b'));
    await settle();
    assert.equal(calls, 1, 'one attempt, then a pause');
    assert.equal(clock.pendingTimers, 1);
    assert.deepEqual(
      backlog.events.map((e) => e.id),
      ['a', 'b'],
      'the failed event is first again',
    );
    await clock.advance(1000);
    assert.deepEqual(backlog.acked, ['a', 'b'], 'delivered in order after the pause');
    loop.destroy();
    assert.equal(clock.pendingTimers, 0, 'destroy clears the timer');
  });

  it('yields to the event loop while a long backlog settles without I/O', async () => {
    const clock = new FakeClock();
    let release = (): void => undefined;
    const first = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const { backlog, loop } = build(
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
    backlog.extra = 0;
    for (let i = 0; i < 1000; i++) backlog.add(event(`e${String(i)}`));
    await settle();
    let deadWhenIoRan = -1;
    setImmediate(() => {
      deadWhenIoRan = backlog.dead;
    });
    release();
    await settle(40);
    assert.equal(backlog.dead, 999, 'every event after the first dead-lettered in the end');
    assert.ok(
      deadWhenIoRan >= 0 && deadWhenIoRan < 999,
      `the event loop got a turn only after ${String(deadWhenIoRan)} dead letters`,
    );
    loop.destroy();
  });

  it('destroy gives the events in flight back to the backlog', async () => {
    const { backlog, loop } = build(
      { maxEvents: 1, maxWaitMs: 0, concurrency: 1 },
      {
        write: () => new Promise(() => undefined),
        close: () => Promise.resolve(),
        destroy: () => undefined,
      },
    );
    backlog.extra = 0;
    backlog.add(event('a'));
    await settle();
    assert.equal(backlog.leased, 1);
    loop.destroy();
    await settle();
    // The hung write never settles, so the loop hands the lease back itself on destroy.
    assert.equal(backlog.leased, 0);
    assert.deepEqual(
      backlog.events.map((e) => e.id),
      ['a'],
    );
  });
});
