import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { defersRetries, type Backlog } from '../storage/storage.ts';
import { RESOLVED, type Sink } from '../core/sink.ts';
import { Delivery } from './delivery.ts';
import type { EndpointListener } from './listener.ts';
import { DeferredError, GaveUpError } from '../core/errors.ts';
import type { RateLimiter, RateLimitListener } from './rate-limit.ts';

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

/** The endpoint's rate limit as the loop asks it: a token before each lease. */
export interface RateGate {
  readonly limiter: RateLimiter;
  readonly listener?: RateLimitListener | undefined;
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
 * An endpoint's delivery loop, over its backlog in whatever storage holds it: up to
 * `concurrency` deliveries in flight, each the oldest waiting events (up to `maxEvents`)
 * leased from the backlog and handed to the next sink (retrying → HTTP). A delivery that
 * succeeds is acknowledged, one the retry limits gave up on is dead-lettered, and one cut
 * short (a defect, destroy) goes back to the backlog. With concurrency 1, deliveries
 * leave in acceptance order. `close` delivers everything pending; `destroy` stops at once.
 *
 * The loop (`pump`) cannot spin: each pass of it either leases events and starts a
 * delivery with them, or arms one timer (a batch gathering, a pause after a defect), or
 * returns. It runs again only on an event: events available, a delivery that settled, a
 * timer that fired, a close. No count decides whether there is work; only `lease` does,
 * so a count that is off cannot make it loop.
 */
export class DeliveryLoop {
  readonly #backlog: Backlog;
  readonly #listener: EndpointListener;
  readonly #log: Logger;
  readonly #next: Sink<Delivery>;
  /** What this loop set as the backlog's onAvailable (a successor may replace it). */
  readonly #onAvailable = (): void => {
    this.#available();
  };
  readonly #clock: Clock;
  readonly #policy: DeliveryPolicy;
  /** Deliveries handed to the next sink and not settled; never more than `concurrency`. */
  readonly #inFlight = new Set<Delivery>();
  /** Deliveries whose events `destroy` gave back to the backlog: their outcome is moot. */
  readonly #abandoned = new WeakSet<Delivery>();
  /** The one timer the loop may wait on (a batch gathering, a pause after a defect). */
  #timer: AbortController | undefined;
  #timerKind: 'gather' | 'defect' | 'rate' = 'gather';
  /** The rate limit, when the endpoint has one: the loop leases only with a token. */
  readonly #rate: RateGate | undefined;
  /** A pump is scheduled for the end of this turn (batching: one request's events together). */
  #pumpScheduled = false;
  /** Deliveries settled in this event-loop turn; see DELIVERIES_PER_TURN. */
  #settledThisTurn = 0;
  /** The loop yielded to the event loop and runs again from a setImmediate. */
  #yielded = false;
  #closed = false;
  /** Leases nothing more (`stop`): another pipeline takes the backlog over. */
  #stopped = false;
  #destroyed = false;
  /** Sends nothing new (the admin API's pause); the backlog still fills. */
  #paused = false;
  #idle: (() => void)[] = [];
  #settled: (() => void)[] = [];

  constructor(opts: {
    backlog: Backlog;
    next: Sink<Delivery>;
    listener: EndpointListener;
    log: Logger;
    clock: Clock;
    policy?: DeliveryPolicy | undefined;
    /** Attach to the backlog only once this resolves (the previous pipeline let go of it). */
    startAfter?: Promise<void> | undefined;
    /** Starts paused (the admin API paused the endpoint before a reload or restart). */
    paused?: boolean | undefined;
    /** The endpoint's rate limit: a token before each lease. */
    rate?: RateGate | undefined;
  }) {
    this.#paused = opts.paused === true;
    this.#rate = opts.rate;
    this.#backlog = opts.backlog;
    this.#next = opts.next;
    this.#listener = opts.listener;
    this.#log = opts.log;
    this.#clock = opts.clock;
    this.#policy = opts.policy ?? ONE_BY_ONE;
    if (opts.startAfter === undefined) this.#attach();
    else
      void opts.startAfter.then(() => {
        this.#attach();
      });
  }

  #attach(): void {
    if (this.#destroyed) return;
    this.#backlog.onAvailable = this.#onAvailable;
    // What the backlog already holds (restored, or left by a previous pipeline) goes now.
    if (this.#backlog.waiting > 0) this.#available();
  }

  /** Undelivered events, those in flight included. */
  get pending(): number {
    return this.#backlog.pending;
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Acceptance time of the oldest undelivered event, if any. */
  oldestAcceptedAt(): number | undefined {
    let oldest = this.#backlog.peek()?.acceptedAt;
    for (const d of this.#inFlight)
      if (oldest === undefined || d.acceptedAt < oldest) oldest = d.acceptedAt;
    return oldest;
  }

  /** Starts no delivery until `resume`; requests in flight finish. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resume();
  }

  /** Events became available in the backlog. */
  #available(): void {
    if (this.#destroyed) return;
    if (this.#policy.maxEvents === 1) {
      this.#resume();
    } else if (!this.#pumpScheduled) {
      // Batching waits for the end of the turn, so that the rest of the events handed over
      // now (one ingest request) join the batch. Without batching the delivery hot path
      // pays for no deferral.
      this.#pumpScheduled = true;
      queueMicrotask(() => {
        this.#pumpScheduled = false;
        this.#resume();
      });
    }
  }

  #resume(): void {
    // A gathering batch that is full now goes at once; a pause after a defect runs out.
    if (this.#timerKind === 'gather' && this.#backlog.waiting >= this.#policy.maxEvents) {
      this.#wake();
    }
    this.#pump();
  }

  /** Starts deliveries for what is waiting, up to `concurrency` in flight. */
  #pump(): void {
    const { maxEvents, maxWaitMs, concurrency } = this.#policy;
    while (
      !this.#destroyed &&
      !this.#stopped &&
      !this.#paused &&
      this.#timer === undefined &&
      this.#inFlight.size < concurrency
    ) {
      if (maxWaitMs > 0 && !this.#closed && this.#backlog.waiting < maxEvents) {
        const oldest = this.#backlog.peek();
        if (oldest === undefined) return;
        const remaining = oldest.acceptedAt + maxWaitMs - this.#clock.now();
        if (remaining > 0) {
          this.#wait('gather', remaining);
          return;
        }
      }
      const rate = this.#rate;
      if (rate !== undefined) {
        // Only with a token: events that wait for one stay in the backlog (on NATS, for
        // another relay to take).
        if (this.#backlog.waiting === 0) return;
        const waitMs = rate.limiter.tryTake(this, rate.listener);
        if (waitMs > 0) {
          this.#wait('rate', waitMs);
          return;
        }
      }
      const events = this.#backlog.lease(maxEvents);
      if (events.length === 0) {
        rate?.limiter.giveBack();
        return;
      }
      const delivery = new Delivery(events);
      delivery.admitted = rate !== undefined;
      void this.#deliver(delivery);
    }
  }

  /** Arms the loop's one timer; the loop runs again when it fires or is cut short. */
  #wait(kind: 'gather' | 'defect' | 'rate', ms: number): void {
    const timer = new AbortController();
    this.#timer = timer;
    this.#timerKind = kind;
    void this.#clock.sleep(ms, timer.signal).then(() => {
      if (this.#timer !== timer) return;
      this.#timer = undefined;
      this.#pump();
    });
  }

  /** Ends the timer's wait now (a batch filled, a drain began); the loop runs again. */
  #wake(): void {
    const timer = this.#timer;
    if (timer === undefined) return;
    this.#timer = undefined;
    timer.abort();
    this.#pump();
  }

  async #deliver(delivery: Delivery): Promise<void> {
    this.#inFlight.add(delivery);
    if (this.#policy.maxEvents > 1) this.#listener.onDeliveryStarted(delivery.events.length);
    let defect = false;
    try {
      await this.#next.write(delivery);
      if (this.#abandoned.has(delivery)) return;
      this.#backlog.ack(delivery.events);
      for (const event of delivery.events) {
        const skipped = delivery.skipped(event);
        if (skipped === undefined) this.#listener.onDelivered(event);
        else this.#listener.onSkipped(event, skipped);
      }
    } catch (err) {
      if (this.#abandoned.has(delivery)) return;
      const backlog = this.#backlog;
      if (err instanceof DeferredError && defersRetries(backlog)) {
        backlog.defer(delivery.events, err.delayMs);
      } else if (err instanceof GaveUpError) {
        this.#backlog.deadLetter(delivery.events, {
          attempts: err.attempts,
          error: err.lastError,
          message: err.message,
        });
        for (const event of delivery.events) this.#listener.onDeadLettered(event, err.message);
      } else {
        // The retrying sink gives up only with GaveUpError: this is a defect, not a
        // delivery failure. The events wait again; delivery resumes after a pause.
        defect = true;
        this.#log.error(
          { err, eventIds: delivery.events.map((e) => e.id) },
          'unexpected error in pipeline; the events wait to be delivered again',
        );
        this.#backlog.retryLater(delivery.events);
      }
    } finally {
      this.#inFlight.delete(delivery);
      if (this.#backlog.pending === 0 || this.#destroyed) {
        for (const resolve of this.#idle.splice(0)) resolve();
      }
      if (this.#inFlight.size === 0) for (const resolve of this.#settled.splice(0)) resolve();
    }
    if (this.#destroyed) return;
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
      this.#pump();
      return;
    }
    if (this.#yielded) return;
    this.#yielded = true;
    setImmediate(() => {
      this.#yielded = false;
      this.#pump();
    });
  }

  /** Resolves when nothing is pending (or the loop was destroyed). */
  onIdle(): Promise<void> {
    if (this.#backlog.pending === 0 || this.#destroyed) return RESOLVED;
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Delivers every pending event (without waiting to batch), then closes the next sink; a
   * paused loop only lets its requests in flight finish.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#paused) {
      // Paused: nothing more goes out; what is pending stays in storage (the drain report
      // counts it as undelivered).
      await this.stop();
      await this.#next.close();
      return;
    }
    this.#wake();
    this.#pump();
    await this.onIdle();
    await this.#next.close();
  }

  /**
   * Leases nothing more and resolves once the requests in flight settled (delivered, dead-
   * lettered or back in the backlog): then another pipeline can take the backlog over.
   */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#rate?.limiter.forget(this, this.#rate.listener);
    const timer = this.#timer;
    this.#timer = undefined;
    timer?.abort();
    if (this.#inFlight.size === 0) return RESOLVED;
    return new Promise((resolve) => this.#settled.push(resolve));
  }

  /**
   * Stops delivering at once; what is undelivered stays in the backlog (and, with a
   * journal, on disk), requests in flight included: their events are given back now, so a
   * pipeline rebuilt over the same backlog continues with them. Safe to call twice.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#closed = true;
    this.#destroyed = true;
    this.#rate?.limiter.forget(this, this.#rate.listener);
    // Newest first: each goes back to the front, so the oldest ends up first again.
    for (const delivery of [...this.#inFlight].reverse()) {
      this.#abandoned.add(delivery);
      this.#backlog.retryLater(delivery.events);
    }
    this.#inFlight.clear();
    if (this.#backlog.onAvailable === this.#onAvailable) this.#backlog.onAvailable = undefined;
    const timer = this.#timer;
    this.#timer = undefined;
    timer?.abort();
    this.#next.destroy();
    for (const resolve of this.#idle.splice(0)) resolve();
    for (const resolve of this.#settled.splice(0)) resolve();
  }
}
