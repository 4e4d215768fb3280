/**
 * The registry's retry policy for one endpoint, as a pure object: after a failure, retry at
 * once until `threshold` consecutive failures; from then on, one attempt per `backoff`
 * after the last failure; a success resets the count. It never gives up.
 * (distribution/notifications/sinks.go, retryingSink.proceed.)
 */
export class Breaker {
  readonly threshold: number;
  readonly backoffMs: number;
  #consecutiveFailures = 0;
  #lastFailureAt = 0;

  constructor(threshold: number, backoffMs: number) {
    this.threshold = threshold;
    this.backoffMs = backoffMs;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Milliseconds to wait before the next attempt may start; 0 means now. */
  delay(now: number): number {
    if (this.#consecutiveFailures < this.threshold) return 0;
    return Math.max(0, this.#lastFailureAt + this.backoffMs - now);
  }

  failure(now: number): void {
    this.#consecutiveFailures += 1;
    this.#lastFailureAt = now;
  }

  success(): void {
    this.#consecutiveFailures = 0;
  }
}
