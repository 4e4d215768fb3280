import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { type Sink } from '../core/sink.ts';
import type { Breaker } from './breaker.ts';
import type { Delivery } from './delivery.ts';
import type { AttemptSpan, Tracing } from '../core/tracing.ts';
import {
  DeferredError,
  DeliveryError,
  FormatError,
  GaveUpError,
  SinkClosedError,
} from '../core/errors.ts';

/** Per endpoint, optional: when to stop retrying an event and dead-letter it. */
export interface RetryLimits {
  readonly maxAttempts?: number | undefined;
  /** Milliseconds since the event was accepted. */
  readonly maxAgeMs?: number | undefined;
  /** The longest wait a Retry-After may impose; a longer one is cut to this. */
  readonly maxRetryAfterMs?: number | undefined;
}

/**
 * Retries each delivery on the next sink until it succeeds, pacing attempts with the
 * breaker (the registry's threshold and backoff; a 429 or 503 with Retry-After holds the
 * next attempt until then, capped by `maxRetryAfterMs`). Without limits (the registry's
 * behaviour) it never gives up: only `destroy` ends the retries. With `retry.maxAttempts`
 * or `retry.maxAge`, a failed attempt that reaches either throws GaveUpError, and the
 * queue dead-letters the delivery's events. Concurrent deliveries share the breaker.
 * With `defer` (a shared backend), a failed attempt that is not the last ends the write
 * with DeferredError carrying the breaker's wait, and the backend offers the events again
 * after it, to whichever relay asks first; attempts are counted from the backend's count.
 */
export class RetryingSink implements Sink<Delivery> {
  readonly #endpoint: string;
  readonly #next: Sink<Delivery>;
  readonly #breaker: Breaker;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #limits: RetryLimits;
  readonly #defer: boolean;
  readonly #tracing: { readonly tracing: Tracing; readonly url: string } | undefined;

  constructor(opts: {
    endpoint: string;
    next: Sink<Delivery>;
    breaker: Breaker;
    clock: Clock;
    log: Logger;
    limits?: RetryLimits;
    defer?: boolean;
    /** With tracing on: each attempt is a span; `url` is the endpoint's, redacted. */
    tracing?: { readonly tracing: Tracing; readonly url: string } | undefined;
  }) {
    this.#endpoint = opts.endpoint;
    this.#tracing = opts.tracing;
    this.#defer = opts.defer ?? false;
    this.#limits = opts.limits ?? {};
    this.#next = opts.next;
    this.#breaker = opts.breaker;
    this.#clock = opts.clock;
    this.#log = opts.log;
  }

  async write(delivery: Delivery): Promise<void> {
    let lastError: string | undefined;
    for (let attempt = delivery.attemptsBefore + 1; ;) {
      if (this.#destroyed()) throw new SinkClosedError(this.#endpoint);
      const wait = this.#breaker.delay(this.#clock.now());
      if (wait > 0) {
        await this.#clock.sleep(wait, this.#abort.signal);
        continue;
      }
      // Checked before every attempt, the first included: an event older than maxAge is
      // not worth delivering late, even to an endpoint that is healthy again.
      const tooOld = this.#tooOld(delivery);
      if (tooOld !== undefined) {
        const why = lastError === undefined ? tooOld : `${tooOld}; last attempt: ${lastError}`;
        throw new GaveUpError(this.#endpoint, attempt - 1, 'retry.maxAge', why);
      }
      const span = this.#tracing === undefined ? undefined : this.#startSpan(delivery, attempt);
      try {
        await this.#next.write(delivery);
        this.#breaker.success();
        span?.end({ status: delivery.status });
        return;
      } catch (err) {
        if (this.#destroyed()) {
          span?.end({ code: 'CLOSED', message: 'the relay stopped the attempt' });
          throw new SinkClosedError(this.#endpoint);
        }
        if (err instanceof FormatError) {
          span?.end({ code: 'FORMAT', message: err.message, gaveUp: 'format' });
          throw new GaveUpError(this.#endpoint, attempt - 1, 'format', err.message);
        }
        // Deferred, the delivery's attempts so far are all failures in a row, whichever
        // relay made them.
        this.#breaker.failure(this.#clock.now(), this.#retryAfter(err), this.#defer ? attempt : 0);
        this.#logFailure(delivery, attempt, err);
        lastError = err instanceof Error ? err.message : String(err);
        const reason = this.#exhausted(delivery, attempt);
        span?.end({
          ...failureOf(err, lastError),
          ...(reason === undefined
            ? { retryDelayMs: this.#breaker.delay(this.#clock.now()) }
            : { gaveUp: reason }),
        });
        if (reason !== undefined) throw new GaveUpError(this.#endpoint, attempt, reason, lastError);
        if (this.#defer) {
          throw new DeferredError(this.#endpoint, this.#breaker.delay(this.#clock.now()));
        }
        attempt += 1;
      }
    }
  }

  #startSpan(delivery: Delivery, attempt: number): AttemptSpan | undefined {
    const t = this.#tracing;
    if (t === undefined) return undefined;
    const span = t.tracing.attempt({
      endpoint: this.#endpoint,
      url: t.url,
      attempt,
      deliveryId: delivery.id,
      events: delivery.events,
    });
    delivery.trace = span;
    delivery.status = undefined;
    return span;
  }

  #retryAfter(err: unknown): number | undefined {
    if (!(err instanceof DeliveryError) || err.retryAfterMs === undefined) return undefined;
    const cap = this.#limits.maxRetryAfterMs;
    return cap === undefined ? err.retryAfterMs : Math.min(err.retryAfterMs, cap);
  }

  #exhausted(delivery: Delivery, attempts: number): string | undefined {
    const { maxAttempts } = this.#limits;
    if (maxAttempts !== undefined && attempts >= maxAttempts) return 'retry.maxAttempts';
    if (this.#tooOld(delivery) !== undefined) return 'retry.maxAge';
    return undefined;
  }

  /** Why the delivery is past `retry.maxAge`, or undefined while it is not. */
  #tooOld(delivery: Delivery): string | undefined {
    const { maxAgeMs } = this.#limits;
    if (maxAgeMs === undefined) return undefined;
    const age = this.#clock.now() - delivery.acceptedAt;
    if (age < maxAgeMs) return undefined;
    return `accepted ${String(Math.round(age))} ms ago, retry.maxAge is ${String(maxAgeMs)} ms`;
  }

  #logFailure(delivery: Delivery, attempt: number, err: unknown): void {
    const one =
      delivery.events.length === 1
        ? { eventId: delivery.id }
        : { deliveryId: delivery.id, events: delivery.events.length };
    // With tracing on, the line names the attempt's span, to find it in the traces.
    const span = this.#tracing === undefined ? undefined : spanIds(delivery.trace?.traceparent);
    const ids = span === undefined ? one : { ...one, ...span };
    if (err instanceof DeliveryError) {
      this.#log.warn(
        {
          ...ids,
          attempt,
          code: err.code,
          ...(err.status === undefined ? {} : { status: err.status }),
          ...(err.location === undefined ? {} : { location: err.location }),
          ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
          backoffMs: this.#breaker.backoffMs,
        },
        `delivery attempt failed: ${err.message}`,
      );
    } else {
      this.#log.error({ ...ids, attempt, err }, 'delivery attempt failed unexpectedly');
    }
  }

  // A method, not the field: the signal aborts while an attempt is awaited.
  #destroyed(): boolean {
    return this.#abort.signal.aborted;
  }

  close(): Promise<void> {
    return this.#next.close();
  }

  destroy(): void {
    this.#abort.abort();
    this.#next.destroy();
  }
}

/** A failed attempt as its span reports it: the status and error code it failed with. */
function failureOf(
  err: unknown,
  message: string,
): { status?: number | undefined; code: string; message: string } {
  if (err instanceof DeliveryError) {
    return { status: err.status, code: err.causeCode ?? err.code, message };
  }
  return { code: 'INTERNAL', message };
}

/** The trace and span id of a traceparent, as log fields. */
function spanIds(traceparent: string | undefined): { traceId: string; spanId: string } | undefined {
  const m =
    traceparent === undefined ? null : /^00-([0-9a-f]{32})-([0-9a-f]{16})-/.exec(traceparent);
  return m === null ? undefined : { traceId: m[1] ?? '', spanId: m[2] ?? '' };
}
