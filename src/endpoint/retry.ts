import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { RelayEvent } from '../event.ts';
import { SinkClosedError, type Sink } from '../sink.ts';
import type { Breaker } from './breaker.ts';
import { DeliveryError } from './http.ts';

/** Per endpoint, optional: when to stop retrying an event and dead-letter it. */
export interface RetryLimits {
  readonly maxAttempts?: number | undefined;
  /** Milliseconds since the event was accepted. */
  readonly maxAgeMs?: number | undefined;
}

/** The retrying sink gave up on an event (retry.maxAttempts or retry.maxAge reached). */
export class GaveUpError extends Error {
  readonly code = 'RELAY_GAVE_UP';
  readonly attempts: number;
  readonly lastError: string;
  constructor(endpoint: string, attempts: number, reason: string, lastError: string) {
    super(`${endpoint}: gave up after ${String(attempts)} attempts (${reason}): ${lastError}`);
    this.name = 'GaveUpError';
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

/**
 * Retries each event on the next sink until it succeeds, pacing attempts with the
 * registry's breaker. Without limits (the registry's behaviour) it never gives up: only
 * `destroy` ends the retries. With `retry.maxAttempts` or `retry.maxAge`, a failed attempt
 * that reaches either throws GaveUpError, and the queue dead-letters the event.
 */
export class RetryingSink implements Sink {
  readonly #endpoint: string;
  readonly #next: Sink;
  readonly #breaker: Breaker;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #limits: RetryLimits;

  constructor(opts: {
    endpoint: string;
    next: Sink;
    breaker: Breaker;
    clock: Clock;
    log: Logger;
    limits?: RetryLimits;
  }) {
    this.#endpoint = opts.endpoint;
    this.#limits = opts.limits ?? {};
    this.#next = opts.next;
    this.#breaker = opts.breaker;
    this.#clock = opts.clock;
    this.#log = opts.log;
  }

  async write(event: RelayEvent): Promise<void> {
    for (let attempt = 1; ;) {
      if (this.#destroyed()) throw new SinkClosedError(this.#endpoint);
      const wait = this.#breaker.delay(this.#clock.now());
      if (wait > 0) {
        await this.#clock.sleep(wait, this.#abort.signal);
        continue;
      }
      try {
        await this.#next.write(event);
        this.#breaker.success();
        return;
      } catch (err) {
        if (this.#destroyed()) throw new SinkClosedError(this.#endpoint);
        this.#breaker.failure(this.#clock.now());
        this.#logFailure(event, attempt, err);
        const reason = this.#exhausted(event, attempt);
        if (reason !== undefined) {
          const last = err instanceof Error ? err.message : String(err);
          throw new GaveUpError(this.#endpoint, attempt, reason, last);
        }
        attempt += 1;
      }
    }
  }

  #exhausted(event: RelayEvent, attempts: number): string | undefined {
    const { maxAttempts, maxAgeMs } = this.#limits;
    if (maxAttempts !== undefined && attempts >= maxAttempts) return 'retry.maxAttempts';
    if (maxAgeMs !== undefined && this.#clock.now() - event.acceptedAt >= maxAgeMs) {
      return 'retry.maxAge';
    }
    return undefined;
  }

  #logFailure(event: RelayEvent, attempt: number, err: unknown): void {
    const backingOff = this.#breaker.consecutiveFailures >= this.#breaker.threshold;
    if (err instanceof DeliveryError) {
      this.#log.warn(
        {
          eventId: event.id,
          attempt,
          code: err.code,
          ...(err.status === undefined ? {} : { status: err.status }),
          ...(err.location === undefined ? {} : { location: err.location }),
          backoffMs: backingOff ? this.#breaker.backoffMs : 0,
        },
        `delivery attempt failed: ${err.message}`,
      );
    } else {
      this.#log.error({ eventId: event.id, attempt, err }, 'delivery attempt failed unexpectedly');
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
