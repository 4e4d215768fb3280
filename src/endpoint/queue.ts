import type { Logger } from 'pino';
import type { RelayEvent } from '../event.ts';
import { RESOLVED, SinkClosedError, type Sink } from '../sink.ts';
import { Deque } from './deque.ts';
import type { EndpointListener } from './listener.ts';
import { GaveUpError } from './retry.ts';

/**
 * A bounded FIFO in front of a slower sink: `write` takes the event synchronously, one
 * event at a time is handed on. When `maxPending` events wait, the oldest waiting one is
 * dropped (counted and logged): a dead endpoint costs bounded memory, and a stale event is
 * worth less to a consumer than the newest.
 */
export class QueueSink implements Sink {
  readonly #endpoint: string;
  readonly #next: Sink;
  readonly #maxPending: number;
  readonly #listener: EndpointListener;
  readonly #log: Logger;
  readonly #waiting = new Deque<RelayEvent>();
  #inFlight: RelayEvent | undefined;
  #pumping = false;
  #closed = false;
  #destroyed = false;
  #idle: (() => void)[] = [];

  constructor(opts: {
    endpoint: string;
    next: Sink;
    maxPending: number;
    listener: EndpointListener;
    log: Logger;
  }) {
    this.#endpoint = opts.endpoint;
    this.#next = opts.next;
    this.#maxPending = opts.maxPending;
    this.#listener = opts.listener;
    this.#log = opts.log;
  }

  /** Events accepted and not yet delivered or dropped, the one in flight included. */
  get pending(): number {
    return this.#waiting.length + (this.#inFlight === undefined ? 0 : 1);
  }

  /** Acceptance time of the oldest undelivered event, if any. */
  oldestAcceptedAt(): number | undefined {
    return (this.#inFlight ?? this.#waiting.peek())?.acceptedAt;
  }

  write(event: RelayEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new SinkClosedError(this.#endpoint));
    if (this.#waiting.length >= this.#maxPending) {
      const oldest = this.#waiting.shift();
      if (oldest !== undefined) {
        this.#listener.onDropped(oldest);
        this.#log.warn(
          { eventId: oldest.id, maxPending: this.#maxPending },
          'queue full: dropped the oldest pending event',
        );
      }
    }
    this.#waiting.push(event);
    this.#listener.onQueued(event);
    if (!this.#pumping) void this.#pump();
    return RESOLVED;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    for (let event = this.#waiting.shift(); event !== undefined; event = this.#waiting.shift()) {
      this.#inFlight = event;
      try {
        await this.#next.write(event);
        this.#listener.onDelivered(event);
      } catch (err) {
        if (this.#destroyed) break;
        if (err instanceof GaveUpError) {
          // Memory mode has no dead-letter table: this line is the dead letter.
          this.#listener.onDeadLettered(event);
          this.#log.error(
            { eventId: event.id, attempts: err.attempts, lastError: err.lastError },
            `dead-lettered: ${err.message} (no storage.path: the event is not kept)`,
          );
          continue;
        }
        // The retrying sink gives up only with GaveUpError, so this is a defect, not a
        // delivery failure; say so loudly rather than lose the event quietly.
        this.#listener.onDropped(event);
        this.#log.error({ err, eventId: event.id }, 'event lost: unexpected error in pipeline');
      } finally {
        this.#inFlight = undefined;
      }
    }
    this.#pumping = false;
    if (this.pending === 0) for (const resolve of this.#idle.splice(0)) resolve();
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

  /** Stops delivering at once; waiting events stay counted as pending (undelivered). */
  destroy(): void {
    this.#closed = true;
    this.#destroyed = true;
    this.#next.destroy();
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
