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

/**
 * What every endpoint queue shares, whatever holds its backlog (memory or the journal):
 * `write` takes an event synchronously; up to `concurrency` workers each take the oldest
 * waiting events (up to `maxEvents`) as one Delivery and hand it to the next sink; a
 * GaveUpError dead-letters its events; `close` waits until nothing is pending and `destroy`
 * stops at once. With one worker, deliveries leave in acceptance order. Subclasses say
 * where events are kept and what delivery and dead-lettering mean for that store.
 */
export abstract class BacklogQueue implements Sink {
  protected readonly endpoint: string;
  protected readonly listener: EndpointListener;
  protected readonly log: Logger;
  readonly #next: Sink<Delivery>;
  readonly #clock: Clock;
  readonly #policy: DeliveryPolicy;
  readonly #inFlight = new Set<Delivery>();
  /** Events in #inFlight's deliveries. */
  #inFlightEvents = 0;
  #workers = 0;
  /** Aborted to wake the one worker waiting for a batch to fill (see #gather). */
  #gathering: AbortController | undefined;
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
  /** The next sink failed otherwise (a defect); true to go on with the next delivery. */
  protected abstract failed(events: readonly RelayEvent[], err: unknown): boolean;

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

  /** Events waiting to be handed on. */
  #waiting(): number {
    return this.pending - this.#inFlightEvents;
  }

  write(event: RelayEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new SinkClosedError(this.endpoint));
    this.keep(event);
    if (this.#gathering !== undefined && this.#waiting() >= this.#policy.maxEvents) {
      this.#gathering.abort();
    }
    this.pump();
    return RESOLVED;
  }

  /** Starts workers for what is waiting, up to `concurrency`. */
  protected pump(): void {
    // While one worker gathers a batch, the others would only take its events away.
    while (
      this.#workers < this.#policy.concurrency &&
      this.#gathering === undefined &&
      !this.#destroyed &&
      this.#waiting() > 0
    ) {
      this.#workers += 1;
      void this.#work();
    }
  }

  async #work(): Promise<void> {
    try {
      // A worker that finds another gathering leaves the gathered events to it.
      const { maxEvents, maxWaitMs, concurrency } = this.#policy;
      while (!this.#destroyed && this.#gathering === undefined && this.#waiting() > 0) {
        // Batching yields once even without maxWait, so that the rest of the events being
        // handed over now (one ingest request) join the batch; without batching there is
        // no await here, which the delivery hot path would pay for every event.
        if (maxEvents > 1) await (maxWaitMs > 0 ? this.#gather() : RESOLVED);
        if (this.#isDestroyed()) break;
        const events: RelayEvent[] = [];
        for (let e = this.take(); e !== undefined; e = this.take()) {
          events.push(e);
          if (events.length >= maxEvents) break;
        }
        if (events.length === 0) break;
        // Another worker may start on what is left while this one delivers.
        if (concurrency > 1) this.pump();
        if (!(await this.#deliver(new Delivery(events)))) break;
      }
    } finally {
      this.#workers -= 1;
      if (this.pending === 0 || this.#destroyed) {
        for (const resolve of this.#idle.splice(0)) resolve();
      }
    }
  }

  /**
   * Waits, when batching with `maxWaitMs`, until `maxEvents` are waiting or the oldest
   * waiting event has waited `maxWaitMs`. Closing stops the wait: a drain sends at once.
   */
  async #gather(): Promise<void> {
    const { maxEvents, maxWaitMs } = this.#policy;
    while (!this.#closed && this.#waiting() < maxEvents) {
      const oldest = this.peek();
      if (oldest === undefined) return;
      const remaining = oldest.acceptedAt + maxWaitMs - this.#clock.now();
      if (remaining <= 0) return;
      const wake = new AbortController();
      this.#gathering = wake;
      await this.#clock.sleep(remaining, wake.signal);
      this.#gathering = undefined;
    }
  }

  /** False when the worker should stop (destroyed, or a defect the subclass stops on). */
  async #deliver(delivery: Delivery): Promise<boolean> {
    this.#inFlight.add(delivery);
    this.#inFlightEvents += delivery.events.length;
    if (this.#policy.maxEvents > 1) this.listener.onDeliveryStarted(delivery.events.length);
    try {
      await this.#next.write(delivery);
      for (const event of delivery.events) {
        this.delivered(event);
        this.listener.onDelivered(event);
      }
      return true;
    } catch (err) {
      if (this.#isDestroyed()) return false;
      if (err instanceof GaveUpError) {
        for (const event of delivery.events) {
          this.deadLettered(event, err);
          this.listener.onDeadLettered(event);
        }
        return true;
      }
      return this.failed(delivery.events, err);
    } finally {
      this.#inFlight.delete(delivery);
      this.#inFlightEvents -= delivery.events.length;
    }
  }

  // A method, not the field: the flag changes while a delivery is awaited.
  #isDestroyed(): boolean {
    return this.#destroyed;
  }

  /** Resolves when nothing is pending. */
  onIdle(): Promise<void> {
    if (this.pending === 0) return RESOLVED;
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Refuses new events, delivers every pending one (without waiting to batch), then closes the next sink. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#gathering?.abort();
    await this.onIdle();
    await this.#next.close();
  }

  /** Stops delivering at once; what is undelivered stays pending (and, with a journal, on disk). */
  destroy(): void {
    this.#closed = true;
    this.#destroyed = true;
    this.#gathering?.abort();
    this.#next.destroy();
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
