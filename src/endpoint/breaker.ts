/** How long to wait between attempts once `threshold` consecutive failures are reached. */
export type BackoffPolicy =
  /** The registry's: the same delay every time. */
  | { readonly strategy: 'fixed'; readonly delayMs: number }
  /**
   * `initialMs`, doubled for every further failure up to `maxMs`, each delay shortened by
   * a random part of up to `jitter` (0: none, 1: anywhere between 0 and the delay), so
   * relays that failed together do not retry together.
   */
  | {
      readonly strategy: 'exponential';
      readonly initialMs: number;
      readonly maxMs: number;
      readonly jitter: number;
    };

/**
 * The retry policy for one endpoint, as a pure object. The registry's: after a failure,
 * retry at once until `threshold` consecutive failures; from then on, one attempt per
 * backoff after the last failure; a success resets the count; it never gives up
 * (distribution/notifications/sinks.go, retryingSink.proceed). Added here: exponential
 * backoff, and a hold until the time a 429 or 503 asked for with Retry-After.
 */
export class Breaker {
  readonly threshold: number;
  readonly policy: BackoffPolicy;
  readonly #random: () => number;
  #consecutiveFailures = 0;
  #lastFailureAt = 0;
  /** The backoff after the last failure; drawn once per failure, so delay() is stable. */
  #backoffMs = 0;
  /** No attempt before this time (Retry-After); 0 when nothing was asked. */
  #holdUntil = 0;

  constructor(threshold: number, policy: BackoffPolicy, random: () => number = Math.random) {
    this.threshold = threshold;
    this.policy = policy;
    this.#random = random;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** The wait the last failure imposed (backoff or Retry-After), in milliseconds. */
  get backoffMs(): number {
    const backoff = this.#consecutiveFailures >= this.threshold ? this.#backoffMs : 0;
    return Math.max(backoff, this.#holdUntil - this.#lastFailureAt);
  }

  /** Milliseconds to wait before the next attempt may start; 0 means now. */
  delay(now: number): number {
    const backoffEnds =
      this.#consecutiveFailures >= this.threshold ? this.#lastFailureAt + this.#backoffMs : 0;
    return Math.max(0, backoffEnds - now, this.#holdUntil - now);
  }

  /**
   * An attempt failed at `now`; `retryAfterMs` is the wait the endpoint asked for, if any.
   * `atLeast`: failures in a row known elsewhere (a shared backend's count of attempts on
   * the event, some made by other relays), so the backoff is the cluster's, not this relay's.
   */
  failure(now: number, retryAfterMs?: number, atLeast = 0): void {
    this.#consecutiveFailures = Math.max(this.#consecutiveFailures + 1, atLeast);
    this.#lastFailureAt = now;
    this.#holdUntil = retryAfterMs === undefined ? 0 : now + retryAfterMs;
    if (this.#consecutiveFailures >= this.threshold) {
      this.#backoffMs = this.#nextBackoff(this.#consecutiveFailures - this.threshold);
    }
  }

  success(): void {
    this.#consecutiveFailures = 0;
    this.#holdUntil = 0;
  }

  #nextBackoff(beyondThreshold: number): number {
    const p = this.policy;
    if (p.strategy === 'fixed') return p.delayMs;
    // 2^n overflows to Infinity long after the cap; min() brings it back.
    const full = Math.min(p.maxMs, p.initialMs * 2 ** beyondThreshold);
    return full - full * p.jitter * this.#random();
  }
}
