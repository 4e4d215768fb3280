import type { RelayEvent } from './event.ts';

/**
 * Where events go. Every stage of an endpoint's pipeline (filter, queue, retry, HTTP) is a
 * Sink that wraps the next one, as in docker/go-events.
 */
export interface Sink<T = RelayEvent> {
  /**
   * Hands over one item: an event to a queue, a Delivery (one request's events) after it. Resolves when this stage is done with it: the filter and the
   * queue take it synchronously (before `write` returns), the retrying sink when it is
   * delivered, the HTTP sink after one successful attempt. Rejects with SinkClosedError
   * once the sink is destroyed, or with DeliveryError for a failed HTTP attempt.
   */
  write(item: T): Promise<void>;
  /** Stops taking events, finishes what this stage holds, then closes what it wraps. */
  close(): Promise<void>;
  /** Abandons what is in progress at once and destroys what it wraps. Safe to call twice. */
  destroy(): void;
}

export const RESOLVED: Promise<void> = Promise.resolve();
