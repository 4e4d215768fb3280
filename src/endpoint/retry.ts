import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { RelayEvent } from '../event.ts';
import { SinkClosedError, type Sink } from '../sink.ts';
import type { Breaker } from './breaker.ts';
import { DeliveryError } from './http.ts';

/**
 * Retries each event on the next sink until it succeeds, pacing attempts with the
 * registry's breaker. It never drops an event by itself: only `destroy` ends the retries.
 */
export class RetryingSink implements Sink {
  readonly #endpoint: string;
  readonly #next: Sink;
  readonly #breaker: Breaker;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #abort = new AbortController();

  constructor(opts: { endpoint: string; next: Sink; breaker: Breaker; clock: Clock; log: Logger }) {
    this.#endpoint = opts.endpoint;
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
        attempt += 1;
      }
    }
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
