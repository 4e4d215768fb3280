import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { RelayEvent } from '../event.ts';
import { RESOLVED, SinkClosedError, type Sink } from '../sink.ts';
import { Delivery } from './delivery.ts';
import type { EndpointListener } from './listener.ts';
import { GaveUpError } from './retry.ts';

/** How a queue hands its events on: how many per request, how long to gather, how many at once. */
export interface DeliveryPolicy {
  /** Events per request (`batch.maxEvents`); 1 sends each event alone. */
  readonly maxEvents: number;
  /**
   * How long a request may wait for `maxEvents` to gather, from its oldest event's
   * acceptance (`batch.maxWait`); 0 sends at once whatever is waiting.
   */
  readonly maxWaitMs: number;
  /** Requests in flight at once (`concurrency`); 1 keeps the events in order. */
  readonly concurrency: number;
}

export const ONE_BY_ONE: DeliveryPolicy = { maxEvents: 1, maxWaitMs: 0, concurrency: 1 };

/** After a defect in the pipeline (not a delivery failure), the queue waits this long. */
const DEFECT_PAUSE_MS = 1000;
/**
 * Deliveries that may settle within one event-loop turn before the loop yields. Outcomes
 * that need no I/O (dead-lettering stale or unrenderable events) settle as microtasks, and
 * a long backlog of them would otherwise hold ingest and the ops listener for its whole
 * length.
 */
const DELIVERIES_PER_TURN = 64;

/**
 * What every endpoint queue shares, whatever holds its backlog (memory or the journal):
 * `write` takes an event synchronously; up to `concurrency` deliveries are in flight, each
 * the oldest waiting events (up to `maxEvents`), handed to the next sink; a GaveUpError
 * dead-letters its events; `close` waits until nothing is pending and `destroy` stops at
 * once. With concurrency 1, deliveries leave in acceptance order. Subclasses say where
 * events are kept and what delivery and dead-lettering mean for that store.
 *
 * The delivery loop (`pump`) cannot spin: each pass of it either takes events out of the
 * backlog and starts a delivery with them, or arms one timer (a batch gathering, a pause
 * after a defect), or returns. It is called again only by an event: a write, a delivery
 * that finished, a timer that fired, a close. No count decides whether there is work; only
 * `take` does, so a count that is off cannot make it loop.
 */
export abstract class BacklogQueue implements Sink {
  protected readonly endpoint: string;
  protected readonly listener: EndpointListener;
  protected readonly log: Logger;
  readonly #next: Sink<Delivery>;
  readonly #clock: Clock;
  readonly #policy: DeliveryPolicy;
  /** Deliveries handed to the next sink and not settled; never more than `concurrency`. */
  readonly #inFlight = new Set<Delivery>();
  /** Events in #inFlight's deliveries. */
  #inFlightEvents = 0;
  /** The one timer the loop may wait on (a batch gathering, a pause after a defect). */
  #timer: AbortController | undefined;
  #timerKind: 'gather' | 'defect' = 'gather';
  /** A pump is scheduled for the end of this turn (batching: one request's events together). */
  #pumpScheduled = false;
  /** Deliveries settled in this event-loop turn; see DELIVERIES_PER_TURN. */
  #settledThisTurn = 0;
  /** The loop yielded to the event loop and runs again from a setImmediate. */
  #yielded = false;
  #closed = false;
  #destroyed = false;
  #idle: (() => void)[] = [];

  constructor(opts: {
    endpoint: string;
    next: Sink<Delivery>;
    listener: EndpointListener;
    log: Logger;
    clock: Clock;
    policy?: DeliveryPolicy | undefined;
  }) {
    this.endpoint = opts.endpoint;
    this.#next = opts.next;
    this.listener = opts.listener;
    this.log = opts.log;
    this.#clock = opts.clock;
    this.#policy = opts.policy ?? ONE_BY_ONE;
  }

  /** Undelivered events, those in flight included. */
  abstract get pending(): number;
  /** Keeps a newly accepted event (and tells the listener). */
  protected abstract keep(event: RelayEvent): void;
  /** The oldest undelivered event not yet handed on, removed from the backlog. */
  protected abstract take(): RelayEvent | undefined;
  /** The oldest undelivered event not yet handed on, left in place. */
  protected abstract peek(): RelayEvent | undefined;
  /** The endpoint answered 2xx for `event`. */
  protected abstract delivered(event: RelayEvent): void;
  /** The retry limits gave up on `event`. */
  protected abstract deadLettered(event: RelayEvent, err: GaveUpError): void;
  /**
   * The next sink failed otherwise (a defect, not a delivery failure): the subclass keeps
   * or reports the events. Delivery resumes after a pause, never in a tight loop.
   */
  protected abstract failed(events: readonly RelayEvent[], err: unknown): void;

  /** Acceptance time of the oldest undelivered event, if any. */
  oldestAcceptedAt(): number | undefined {
    let oldest = this.peek()?.acceptedAt;
    for (const d of this.#inFlight)
      if (oldest === undefined || d.acceptedAt < oldest) oldest = d.acceptedAt;
    return oldest;
  }

  /** Events handed on and not yet delivered or dead-lettered. */
  protected get inFlightEvents(): number {
    return this.#inFlightEvents;
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  write(event: RelayEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new SinkClosedError(this.endpoint));
    this.keep(event);
    if (this.#policy.maxEvents === 1) {
      this.pump();
    } else if (!this.#pumpScheduled) {
      // Batching waits for the end of the turn, so that the rest of the events handed over
      // now (one ingest request) join the batch. Without batching the delivery hot path
      // pays for no deferral.
      this.#pumpScheduled = true;
      queueMicrotask(() => {
        this.#pumpScheduled = false;
        this.resume();
      });
    }
    return RESOLVED;
  }

  /** Starts deliveries for what is waiting, up to `concurrency` in flight. */
  protected pump(): void {
    const { maxEvents, maxWaitMs, concurrency } = this.#policy;
    while (!this.#destroyed && this.#timer === undefined && this.#inFlight.size < concurrency) {
      if (maxWaitMs > 0 && !this.#closed && this.#waiting() < maxEvents) {
        const oldest = this.peek();
        if (oldest === undefined) return;
        const remaining = oldest.acceptedAt + maxWaitMs - this.#clock.now();
        if (remaining > 0) {
          this.#wait('gather', remaining);
          return;
        }
      }
      const events: RelayEvent[] = [];
      while (events.length < maxEvents) {
        const event = this.take();
        if (event === undefined) break;
        events.push(event);
      }
      if (events.length === 0) return;
      void this.#deliver(new Delivery(events));
    }
  }

  /** Events waiting to be handed on (an estimate for batching; `take` is the truth). */
  #waiting(): number {
    return this.pending - this.#inFlightEvents;
  }

  /** Arms the loop's one timer; the loop runs again when it fires or is cut short. */
  #wait(kind: 'gather' | 'defect', ms: number): void {
    const timer = new AbortController();
    this.#timer = timer;
    this.#timerKind = kind;
    void this.#clock.sleep(ms, timer.signal).then(() => {
      if (this.#timer !== timer) return;
      this.#timer = undefined;
      this.pump();
    });
  }

  /** Ends the timer's wait now (a batch filled, a drain began); the loop runs again. */
  #wake(): void {
    const timer = this.#timer;
    if (timer === undefined) return;
    this.#timer = undefined;
    timer.abort();
    this.pump();
  }

  async #deliver(delivery: Delivery): Promise<void> {
    this.#inFlight.add(delivery);
    this.#inFlightEvents += delivery.events.length;
    if (this.#policy.maxEvents > 1) this.listener.onDeliveryStarted(delivery.events.length);
    let defect = false;
    try {
      await this.#next.write(delivery);
      for (const event of delivery.events) {
        this.delivered(event);
        this.listener.onDelivered(event);
      }
    } catch (err) {
      if (this.#isDestroyed()) return;
      if (err instanceof GaveUpError) {
        for (const event of delivery.events) {
          this.deadLettered(event, err);
          this.listener.onDeadLettered(event);
        }
      } else {
        defect = true;
        this.failed(delivery.events, err);
      }
    } finally {
      this.#inFlight.delete(delivery);
      this.#inFlightEvents -= delivery.events.length;
      if (this.pending === 0 || this.#destroyed) {
        for (const resolve of this.#idle.splice(0)) resolve();
      }
    }
    if (defect && this.#timer === undefined) this.#wait('defect', DEFECT_PAUSE_MS);
    else this.#pumpAfterSettle();
  }

  #pumpAfterSettle(): void {
    this.#settledThisTurn += 1;
    if (this.#settledThisTurn === 1) {
      setImmediate(() => {
        this.#settledThisTurn = 0;
      });
    }
    if (this.#settledThisTurn <= DELIVERIES_PER_TURN) {
      this.pump();
      return;
    }
    if (this.#yielded) return;
    this.#yielded = true;
    setImmediate(() => {
      this.#yielded = false;
      this.pump();
    });
  }

  // A method, not the field: the flag changes while a delivery is awaited.
  #isDestroyed(): boolean {
    return this.#destroyed;
  }

  /** Called when events may be waiting that no write announced (restored, replayed). */
  protected resume(): void {
    // A gathering batch that is full now goes at once; a pause after a defect runs out.
    if (this.#timerKind === 'gather' && this.#waiting() >= this.#policy.maxEvents) this.#wake();
    this.pump();
  }

  /** Resolves when nothing is pending. */
  onIdle(): Promise<void> {
    if (this.pending === 0 || this.#destroyed) return RESOLVED;
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Refuses new events, delivers every pending one (without waiting to batch), then closes the next sink. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake();
    this.pump();
    await this.onIdle();
    await this.#next.close();
  }

  /** Stops delivering at once; what is undelivered stays pending (and, with a journal, on disk). */
  destroy(): void {
    this.#closed = true;
    this.#destroyed = true;
    const timer = this.#timer;
    this.#timer = undefined;
    timer?.abort();
    this.#next.destroy();
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
