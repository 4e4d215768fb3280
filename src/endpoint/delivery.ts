import { createHash } from 'node:crypto';
import type { RelayEvent } from '../core/event.ts';
import type { SkipReason } from './listener.ts';

/** One request's body and the headers that describe it, as a format renders them. */
export interface Payload {
  readonly body: string;
  /** Flat `name, value` pairs (lower-case names), content-type included. */
  readonly headers: readonly string[];
}

/**
 * What one request carries: one event, or up to `batch.maxEvents` of them, oldest first.
 * The queue makes it, the retrying sink retries it whole, the HTTP sink renders it once.
 */
export class Delivery {
  /**
   * The delivery's identity for receivers (Standard Webhooks `webhook-id`): the event id
   * for one event, a digest of the event ids for a batch. It is the same on every retry,
   * and for a single event also after a restart.
   */
  readonly id: string;
  readonly events: readonly RelayEvent[];
  /** Rendered on the first attempt and reused by retries. */
  payload: Payload | undefined;
  /** Its next attempt already has its rate limit token (the loop took it before leasing). */
  admitted = false;
  /**
   * With tracing on, the `traceparent` (and `tracestate`) of the attempt in progress: the
   * request carries them.
   */
  trace: { readonly traceparent: string; readonly tracestate: string | undefined } | undefined;
  /** The status of the last answer (tracing reports it). */
  status: number | undefined;

  constructor(events: readonly RelayEvent[]) {
    const first = events[0];
    if (first === undefined) throw new Error('a delivery needs at least one event');
    this.events = events;
    this.id =
      events.length === 1
        ? first.id
        : `batch_${createHash('sha256')
            .update(events.map((e) => e.id).join('\n'))
            .digest('base64url')
            .slice(0, 27)}`;
  }

  /** Events acknowledged without being sent, and why (see EnrichingSink). */
  #skipped: Map<RelayEvent, SkipReason> | undefined;

  skip(event: RelayEvent, why: SkipReason): void {
    (this.#skipped ??= new Map()).set(event, why);
  }

  /** Why `event` was not sent, if it was skipped. */
  skipped(event: RelayEvent): SkipReason | undefined {
    return this.#skipped?.get(event);
  }

  /** Attempts a shared backend says were made before this one (0 for a fresh delivery). */
  get attemptsBefore(): number {
    let n = 0;
    for (const e of this.events) n = Math.max(n, e.attempts ?? 0);
    return n;
  }

  /** Acceptance time of its oldest event: where retry.maxAge is measured from. */
  get acceptedAt(): number {
    return this.events[0]?.acceptedAt ?? 0;
  }
}
