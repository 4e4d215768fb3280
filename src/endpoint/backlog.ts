import type { Logger } from 'pino';
import type { RelayEvent } from '../event.ts';
import { RESOLVED, SinkClosedError, type Sink } from '../sink.ts';
import type { EndpointListener } from './listener.ts';
import { GaveUpError } from './retry.ts';

/**
 * What every endpoint queue shares, whatever holds its backlog (memory or the journal):
 * `write` takes an event synchronously; one event at a time is handed to the next sink,
 * oldest first; a GaveUpError dead-letters it; `close` waits until nothing is pending and
 * `destroy` stops at once. Subclasses say where events are kept and what delivery and
 * dead-lettering mean for that store.
 */
export abstract class BacklogQueue implements Sink {
  protected readonly endpoint: string;
  protected readonly listener: EndpointListener;
  protected readonly log: Logger;
  readonly #next: Sink;
  #inFlight: RelayEvent | undefined;
  #pumping = false;
  #closed = false;
  #destroyed = false;
  #idle: (() => void)[] = [];

  constructor(opts: { endpoint: string; next: Sink; listener: EndpointListener; log: Logger }) {
    this.endpoint = opts.endpoint;
    this.#next = opts.next;
    this.listener = opts.listener;
    this.log = opts.log;
  }

  /** Undelivered events, the one in flight included. */
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
  /** The next sink failed otherwise (a defect); true to go on with the next event. */
  protected abstract failed(event: RelayEvent, err: unknown): boolean;

  /** Acceptance time of the oldest undelivered event, if any. */
  oldestAcceptedAt(): number | undefined {
    return (this.#inFlight ?? this.peek())?.acceptedAt;
  }

  protected get inFlight(): boolean {
    return this.#inFlight !== undefined;
  }

  write(event: RelayEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new SinkClosedError(this.endpoint));
    this.keep(event);
    this.pump();
    return RESOLVED;
  }

  /** Starts delivering, unless it already is. */
  protected pump(): void {
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    for (let event = this.take(); event !== undefined; event = this.take()) {
      if (this.#destroyed) break;
      this.#inFlight = event;
      try {
        await this.#next.write(event);
        this.delivered(event);
        this.listener.onDelivered(event);
      } catch (err) {
        if (this.#isDestroyed()) break;
        if (err instanceof GaveUpError) {
          this.deadLettered(event, err);
          this.listener.onDeadLettered(event);
          continue;
        }
        if (!this.failed(event, err)) break;
      } finally {
        this.#inFlight = undefined;
      }
    }
    this.#pumping = false;
    if (this.pending === 0 || this.#destroyed) {
      for (const resolve of this.#idle.splice(0)) resolve();
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

  /** Refuses new events, delivers every pending one, then closes the next sink. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.onIdle();
    await this.#next.close();
  }

  /** Stops delivering at once; what is undelivered stays pending (and, with a journal, on disk). */
  destroy(): void {
    this.#closed = true;
    this.#destroyed = true;
    this.#next.destroy();
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
