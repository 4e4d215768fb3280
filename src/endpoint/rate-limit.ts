import type { Clock } from '../core/clock.ts';
import { SinkClosedError } from '../core/errors.ts';
import type { Sink } from '../core/sink.ts';
import type { Delivery } from './delivery.ts';

/** `rateLimit`: at most `requests` requests per `perMs`, and `burst` at once after a quiet spell. */
export interface RateLimitPlan {
  readonly requests: number;
  readonly perMs: number;
  readonly burst: number;
}

/** What the limiter tells the endpoint's figures: a request waited, and for how long. */
export interface RateLimitListener {
  /** A request starts waiting for its turn (`waiting` now waiting, this one included). */
  onRateLimited(waiting: number): void;
  /** A request's turn came after `waitedMs` (0 when it did not wait). */
  onRateAdmitted(waitedMs: number, waiting: number): void;
}

/**
 * A token bucket on the injected clock: it holds at most `burst` tokens, gains `requests`
 * per `perMs`, and each request takes one. Requests wait in arrival order; a request that
 * waits is neither a failure nor a retry, and its events stay where they were (pending, in
 * order). Starts full: the first `burst` requests leave at once.
 */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #burst: number;
  /** Tokens in the bucket; below zero, the requests already promised the next ones. */
  #tokens: number;
  #at: number;
  #waiting = 0;
  /** Callers of tryTake told to come back, and since when (they count as waiting). */
  readonly #parked = new Map<object, number>();

  constructor(plan: RateLimitPlan, clock: Clock) {
    this.#clock = clock;
    this.#intervalMs = plan.perMs / plan.requests;
    this.#burst = plan.burst;
    this.#tokens = plan.burst;
    this.#at = clock.now();
  }

  /** Requests waiting for a token now. */
  get waiting(): number {
    return this.#waiting;
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) / this.#intervalMs);
    this.#at = now;
  }

  /**
   * Takes a token if there is one and answers 0; else answers the milliseconds until there
   * is, and counts `waiter` as waiting until a later call takes one (the delivery loop: it
   * leases events only once it has a token, so a relay without one leaves them to others).
   */
  tryTake(waiter: object, listener?: RateLimitListener): number {
    this.#refill();
    const now = this.#clock.now();
    const since = this.#parked.get(waiter);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      if (since !== undefined) {
        this.#parked.delete(waiter);
        this.#waiting--;
        listener?.onRateAdmitted(now - since, this.#waiting);
      }
      return 0;
    }
    if (since === undefined) {
      this.#parked.set(waiter, now);
      this.#waiting++;
      listener?.onRateLimited(this.#waiting);
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) * this.#intervalMs - 1e-9));
  }

  /** A token taken with tryTake and not used (nothing was left to send) goes back. */
  giveBack(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }

  /** `waiter` waits no more (stopped or destroyed). */
  forget(waiter: object, listener?: RateLimitListener): void {
    if (!this.#parked.delete(waiter)) return;
    this.#waiting--;
    listener?.onRateAdmitted(0, this.#waiting);
  }

  /**
   * Resolves once the request has its token, with how long it waited. Each request reserves
   * the next token as it arrives, so they leave in arrival order. With `signal` aborted it
   * resolves at once with `aborted` (the request is given up and its token returned).
   */
  async take(
    signal: AbortSignal,
    listener?: RateLimitListener,
  ): Promise<{ waitedMs: number; aborted: boolean }> {
    this.#refill();
    this.#tokens -= 1;
    if (this.#tokens >= 0) {
      listener?.onRateAdmitted(0, this.#waiting);
      return { waitedMs: 0, aborted: false };
    }
    const started = this.#clock.now();
    this.#waiting++;
    listener?.onRateLimited(this.#waiting);
    await this.#clock.sleep(-this.#tokens * this.#intervalMs, signal);
    this.#waiting--;
    const waitedMs = this.#clock.now() - started;
    if (signal.aborted) {
      this.#tokens += 1;
      listener?.onRateAdmitted(0, this.#waiting);
      return { waitedMs, aborted: true };
    }
    listener?.onRateAdmitted(waitedMs, this.#waiting);
    return { waitedMs, aborted: false };
  }
}

/**
 * The rate limit's stage, before each HTTP attempt: a delivery's first attempt had its token
 * from the delivery loop (`Delivery.admitted`); each retry is another request the receiver
 * counts and waits for its turn here. `destroy` ends the waits.
 */
export class RateLimitedSink implements Sink<Delivery> {
  readonly #endpoint: string;
  readonly #next: Sink<Delivery>;
  readonly #limiter: RateLimiter;
  readonly #listener: RateLimitListener | undefined;
  readonly #stop = new AbortController();

  constructor(options: {
    endpoint: string;
    next: Sink<Delivery>;
    limiter: RateLimiter;
    listener?: RateLimitListener | undefined;
  }) {
    this.#endpoint = options.endpoint;
    this.#next = options.next;
    this.#limiter = options.limiter;
    this.#listener = options.listener;
  }

  async write(delivery: Delivery): Promise<void> {
    if (delivery.admitted) {
      delivery.admitted = false;
      return this.#next.write(delivery);
    }
    const { aborted } = await this.#limiter.take(this.#stop.signal, this.#listener);
    if (aborted) throw new SinkClosedError(this.#endpoint);
    return this.#next.write(delivery);
  }

  close(): Promise<void> {
    return this.#next.close();
  }

  destroy(): void {
    this.#stop.abort();
    this.#next.destroy();
  }
}
