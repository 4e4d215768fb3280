import type { RelayEvent } from '../core/event.ts';

/** Why an event was acknowledged without being sent. */
export type SkipReason = 'filtered' | 'duplicate';

/** What one HTTP attempt came to. */
export type AttemptOutcome =
  | { readonly kind: 'success'; readonly status: number; readonly durationMs: number }
  | {
      readonly kind: 'failure';
      readonly status: number;
      readonly durationMs: number;
      /** What the log says of it: "answered 503 Service Unavailable: maintenance". */
      readonly message: string;
    }
  | {
      readonly kind: 'error';
      readonly code: string;
      readonly durationMs: number;
      readonly message: string;
    };

/**
 * How a pipeline reports what happens to its events. Sinks call these and never import a
 * metrics library; the metrics module implements it (see metrics/endpoint-stats.ts).
 */
export interface EndpointListener {
  /** The journal held `count` undelivered events for the endpoint at start. */
  restorePending(count: number): void;
  /** The endpoint's filter refused an event: it is not kept for the endpoint. */
  onFiltered(): void;
  /** The event passed the filter and entered the queue (the registry's `Events`). */
  onQueued(event: RelayEvent): void;
  /** The queue was full and dropped this, its oldest event. */
  onDropped(event: RelayEvent): void;
  /** With batching: a delivery of `events` events (one request, retried as a whole) left the queue. */
  onDeliveryStarted(events: number): void;
  /** One HTTP attempt finished (the registry's `Successes`, `Failures`, `Errors`). */
  onAttempt(outcome: AttemptOutcome): void;
  /**
   * Decided at delivery, not sent and no longer pending: the fact filter refused it once
   * its facts were read (`filtered`), or its resolved digest showed it a re-send (`duplicate`).
   */
  onSkipped(event: RelayEvent, why: SkipReason): void;
  /** The endpoint answered 2xx for this event; it is no longer pending. */
  onDelivered(event: RelayEvent): void;
  /** Retry limits were reached: the event left the backlog for the dead letters. */
  onDeadLettered(event: RelayEvent, reason: string): void;
}
