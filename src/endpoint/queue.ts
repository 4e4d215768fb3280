import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { RelayEvent } from '../event.ts';
import type { Sink } from '../sink.ts';
import { BacklogQueue, type DeliveryPolicy } from './backlog.ts';
import type { Delivery } from './delivery.ts';
import { Deque } from './deque.ts';
import type { EndpointListener } from './listener.ts';
import type { GaveUpError } from './retry.ts';

/**
 * An endpoint's backlog in memory (no `storage.path`): a bounded FIFO. When `maxPending`
 * events wait, the oldest waiting one is dropped (counted and logged): a dead endpoint
 * costs bounded memory, and a stale event is worth less to a consumer than the newest.
 */
export class QueueSink extends BacklogQueue {
  readonly #maxPending: number;
  readonly #waiting = new Deque<RelayEvent>();

  constructor(opts: {
    endpoint: string;
    next: Sink<Delivery>;
    maxPending: number;
    listener: EndpointListener;
    log: Logger;
    clock: Clock;
    policy?: DeliveryPolicy | undefined;
  }) {
    super(opts);
    this.#maxPending = opts.maxPending;
  }

  /** Events accepted and not yet delivered or dropped, those in flight included. */
  get pending(): number {
    return this.#waiting.length + this.inFlightEvents;
  }

  protected keep(event: RelayEvent): void {
    if (this.#waiting.length >= this.#maxPending) {
      const oldest = this.#waiting.shift();
      if (oldest !== undefined) {
        this.listener.onDropped(oldest);
        this.log.warn(
          { eventId: oldest.id, maxPending: this.#maxPending },
          'queue full: dropped the oldest pending event',
        );
      }
    }
    this.#waiting.push(event);
    this.listener.onQueued(event);
  }

  protected take(): RelayEvent | undefined {
    return this.#waiting.shift();
  }

  protected peek(): RelayEvent | undefined {
    return this.#waiting.peek();
  }

  protected delivered(): void {
    // Nothing to record: the event is gone from memory already.
  }

  protected deadLettered(event: RelayEvent, err: GaveUpError): void {
    // Memory mode has no dead-letter table: this line is the dead letter.
    this.log.error(
      { eventId: event.id, attempts: err.attempts, lastError: err.lastError },
      `dead-lettered: ${err.message} (no storage.path: the event is not kept)`,
    );
  }

  protected failed(events: readonly RelayEvent[], err: unknown): void {
    // The retrying sink gives up only with GaveUpError, so this is a defect, not a
    // delivery failure; say so loudly rather than lose the events quietly.
    for (const event of events) {
      this.listener.onDropped(event);
      this.log.error({ err, eventId: event.id }, 'event lost: unexpected error in pipeline');
    }
  }
}
