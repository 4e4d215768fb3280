import type { RelayEvent } from './event.ts';

/**
 * OpenTelemetry tracing as the stages see it: one span per ingest request and one per
 * delivery attempt. Off (the default), there is no Tracing at all and every stage skips
 * it with one `undefined` check; src/telemetry/ implements it with the OpenTelemetry SDK.
 *
 * An event carries its trace as `RelayEvent.trace`: the W3C `traceparent` of the ingest
 * span that accepted it, then, after a newline, the `tracestate` it came with, if any.
 * Storage keeps that string with the event, so an attempt after a restart, or made by
 * another relay sharing NATS, is still a child of the same ingest span.
 */
export interface Tracing {
  /** Starts the span of one ingest request, continuing the sender's trace when it sent one. */
  ingest(request: IngestRequest): IngestSpan;
  /** Starts the span of one delivery attempt, a child of its (first) event's ingest span. */
  attempt(attempt: AttemptStart): AttemptSpan;
  /** Told of each export's outcome: `ok`, and how many spans it carried. */
  onExport(listener: (ok: boolean, spans: number) => void): void;
  /** Exports what is still buffered; called once, at shutdown. */
  shutdown(): Promise<void>;
}

export interface IngestRequest {
  /** The request's `traceparent` and `tracestate` headers, as received. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** `POST /events` or `POST /sources/<name>`: the span's name. */
  readonly route: string;
  /** `events`, or the source's name. */
  readonly source: string;
  /** Events in the request. */
  readonly events: number;
}

export interface IngestSpan {
  /** What each of the request's events keeps as its `trace`. */
  readonly context: string;
  end(outcome: IngestOutcome): void;
}

export interface IngestOutcome {
  /** The answer's status: 202, or 503 or 500 when the events were not kept. */
  readonly status: number;
  readonly accepted?: number | undefined;
  readonly duplicates?: number | undefined;
  /** Why the events were not kept. */
  readonly error?: string | undefined;
}

export interface AttemptStart {
  readonly endpoint: string;
  /** The endpoint URL without credentials. */
  readonly url: string;
  /** The attempt's number for this delivery, 1 for the first, counted by every relay. */
  readonly attempt: number;
  readonly deliveryId: string;
  readonly events: readonly RelayEvent[];
}

export interface AttemptSpan {
  /** The `traceparent` the attempt's request carries, so the receiver's trace joins. */
  readonly traceparent: string;
  readonly tracestate: string | undefined;
  end(outcome: AttemptOutcomeSpan): void;
}

export interface AttemptOutcomeSpan {
  /** The receiver's status, when it answered. */
  readonly status?: number | undefined;
  /** The error code of a failed attempt (RELAY_HTTP_STATUS, RELAY_TIMEOUT, ...). */
  readonly code?: string | undefined;
  readonly message?: string | undefined;
  /** How long until the next attempt, when there will be one. */
  readonly retryDelayMs?: number | undefined;
  /** Why the relay stopped retrying (retry.maxAttempts, retry.maxAge, format). */
  readonly gaveUp?: string | undefined;
}

/** An event's `trace` from the two W3C headers (undefined without a traceparent). */
export function traceOf(
  traceparent: string | undefined,
  tracestate: string | undefined,
): string | undefined {
  if (traceparent === undefined || traceparent === '') return undefined;
  return tracestate === undefined || tracestate === ''
    ? traceparent
    : `${traceparent}\n${tracestate}`;
}

/** The `traceparent` and `tracestate` an event's `trace` holds. */
export function traceHeaders(trace: string): { traceparent: string; tracestate?: string } {
  const cut = trace.indexOf('\n');
  return cut < 0
    ? { traceparent: trace }
    : { traceparent: trace.slice(0, cut), tracestate: trace.slice(cut + 1) };
}
