import type { CounterCell } from './cells.ts';
import type { RelayEvent } from '../core/event.ts';
import { statusText } from '../core/status.ts';
import type { AttemptOutcome, EndpointListener, SkipReason } from '../endpoint/listener.ts';
import type { Clock } from '../core/clock.ts';
import type { RelayMetrics } from './registry.ts';

/** Counts per second over the last minute (60 buckets, each stamped with its second). */
export class MinuteCounts {
  readonly #counts = new Float64Array(60);
  readonly #seconds = new Float64Array(60).fill(-1);

  add(now: number, n = 1): void {
    const second = Math.floor(now / 1000);
    const i = second % 60;
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second;
      this.#counts[i] = 0;
    }
    this.#counts[i] = (this.#counts[i] ?? 0) + n;
  }

  /** The last 60 whole seconds before `now`'s second and that second, oldest first. */
  series(now: number): number[] {
    const second = Math.floor(now / 1000);
    const out: number[] = [];
    for (let s = second - 59; s <= second; s++) {
      const i = ((s % 60) + 60) % 60;
      out.push(this.#seconds[i] === s ? (this.#counts[i] ?? 0) : 0);
    }
    return out;
  }

  total(now: number): number {
    return this.series(now).reduce((a, b) => a + b, 0);
  }
}

/** The last success or failure of an endpoint, for the admin API. */
export interface LastOutcome {
  /** Epoch ms. */
  readonly at: number;
  readonly status?: number | undefined;
  /** The transport's error code when there was no answer (TIMEOUT, ECONNREFUSED…). */
  readonly code?: string | undefined;
  readonly message?: string | undefined;
}

/**
 * One endpoint's figures: plain counters for `/debug/vars` (the registry's expvar shape) and
 * the matching Prometheus series, both fed by the pipeline through EndpointListener.
 */
export class EndpointStats implements EndpointListener {
  events = 0;
  pending = 0;
  successes = 0;
  failures = 0;
  errors = 0;
  dropped = 0;
  deadLettered = 0;
  filtered = 0;
  /** Re-sends found once their tag was resolved to a digest: acknowledged, not sent. */
  duplicates = 0;
  /** Requests waiting for the rate limit now, and the time requests waited for it in all. */
  rateLimited = 0;
  rateWaitMs = 0;
  readonly statuses = new Map<string, number>();
  /** Accept-to-delivered latency of delivered events. */
  readonly latency = { count: 0, sumMs: 0, maxMs: 0 };
  /** Events delivered and attempts failed, per second over the last minute. */
  readonly deliveredPerSecond = new MinuteCounts();
  readonly failedPerSecond = new MinuteCounts();
  lastSuccess: LastOutcome | undefined;
  lastFailure: LastOutcome | undefined;

  readonly #clock: Clock;
  readonly #metrics: RelayMetrics;
  readonly #endpoint: string;
  readonly #prom;
  readonly #statusCounters = new Map<number, { key: string; counter: CounterCell }>();

  constructor(endpoint: string, metrics: RelayMetrics, clock: Clock) {
    this.#endpoint = endpoint;
    this.#metrics = metrics;
    this.#clock = clock;
    // Cells for the series every event or attempt touches (see cells.ts); children bound
    // once for the rest: label lookup stays off the per-event path.
    this.#prom = {
      events: metrics.events.cell({ type: 'Events', endpoint }),
      successes: metrics.events.cell({ type: 'Successes', endpoint }),
      failures: metrics.events.cell({ type: 'Failures', endpoint }),
      errors: metrics.events.cell({ type: 'Errors', endpoint }),
      pending: metrics.pending.cell({ endpoint }),
      dropped: metrics.dropped.labels(endpoint),
      deadLettered: metrics.deadLettered.labels(endpoint),
      filtered: metrics.filtered.labels(endpoint),
      duplicates: metrics.resolvedDuplicates.labels(endpoint),
      rateWait: metrics.rateLimitWait.labels(endpoint),
      rateLimited: metrics.rateLimited.labels(endpoint),
      latency: metrics.deliveryLatency.cell({ endpoint }),
      requestEvents: metrics.requestEvents.labels(endpoint),
      attemptSuccess: metrics.attemptDuration.cell({ endpoint, outcome: 'success' }),
      attemptFailure: metrics.attemptDuration.cell({ endpoint, outcome: 'failure' }),
      attemptError: metrics.attemptDuration.cell({ endpoint, outcome: 'error' }),
    };
    // Every series exists from the start, so a scrape shows the endpoint before traffic.
    this.#prom.events.inc(0);
    this.#prom.successes.inc(0);
    this.#prom.failures.inc(0);
    this.#prom.errors.inc(0);
    this.#prom.pending.set(0);
    this.#prom.dropped.inc(0);
    this.#prom.deadLettered.inc(0);
    this.#prom.filtered.inc(0);
    this.#prom.duplicates.inc(0);
    this.#prom.rateWait.inc(0);
    this.#prom.rateLimited.set(0);
  }

  /**
   * The endpoint left the config: its label sets leave /metrics (its backlog, if any, is
   * shown as orphaned instead).
   */
  forget(): void {
    const m = this.#metrics;
    const name = this.#endpoint;
    for (const type of ['Events', 'Successes', 'Failures', 'Errors']) m.events.remove(type, name);
    m.pending.remove(name);
    m.dropped.remove(name);
    m.deadLettered.remove(name);
    m.filtered.remove(name);
    m.resolvedDuplicates.remove(name);
    m.rateLimitWait.remove(name);
    m.rateLimited.remove(name);
    m.deliveryLatency.remove(name);
    m.requestEvents.remove(name);
    for (const outcome of ['success', 'failure', 'error']) m.attemptDuration.remove(name, outcome);
    for (const { key } of this.#statusCounters.values()) m.statuses.remove(key, name);
  }

  /** Events found undelivered in the journal at start: pending, though not queued now. */
  restorePending(count: number): void {
    this.pending += count;
    this.#prom.pending.inc(count);
  }

  onRateLimited(waiting: number): void {
    this.rateLimited = waiting;
    this.#prom.rateLimited.set(waiting);
  }

  onRateAdmitted(waitedMs: number, waiting: number): void {
    this.rateLimited = waiting;
    this.#prom.rateLimited.set(waiting);
    if (waitedMs > 0) {
      this.rateWaitMs += waitedMs;
      this.#prom.rateWait.inc(waitedMs / 1000);
    }
  }

  onFiltered(): void {
    this.filtered += 1;
    this.#prom.filtered.inc();
  }

  /** Skipped at delivery: a late filter counts as filtered; either way no longer pending. */
  onSkipped(_event: RelayEvent, why: SkipReason): void {
    if (why === 'filtered') this.onFiltered();
    else {
      this.duplicates += 1;
      this.#prom.duplicates.inc();
    }
    this.pending -= 1;
    this.#prom.pending.dec();
  }

  onDeadLettered(): void {
    this.deadLettered += 1;
    this.pending -= 1;
    this.#prom.deadLettered.inc();
    this.#prom.pending.dec();
  }

  onQueued(): void {
    this.events += 1;
    this.pending += 1;
    this.#prom.events.inc();
    this.#prom.pending.inc();
  }

  onDropped(): void {
    this.dropped += 1;
    this.pending -= 1;
    this.#prom.dropped.inc();
    this.#prom.pending.dec();
  }

  onDeliveryStarted(events: number): void {
    this.#prom.requestEvents.observe(events);
  }

  onAttempt(outcome: AttemptOutcome): void {
    const seconds = outcome.durationMs / 1000;
    const now = this.#clock.now();
    if (outcome.kind === 'success') {
      this.lastSuccess = { at: now, status: outcome.status };
    } else {
      this.failedPerSecond.add(now);
      this.lastFailure =
        outcome.kind === 'error'
          ? { at: now, code: outcome.code, message: outcome.message }
          : { at: now, status: outcome.status, message: outcome.message };
    }
    if (outcome.kind === 'error') {
      this.errors += 1;
      this.#prom.errors.inc();
      this.#prom.attemptError.observe(seconds);
      return;
    }
    const { key, counter } = this.#statusCounter(outcome.status);
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
    counter.inc();
    if (outcome.kind === 'success') {
      this.successes += 1;
      this.#prom.successes.inc();
      this.#prom.attemptSuccess.observe(seconds);
    } else {
      this.failures += 1;
      this.#prom.failures.inc();
      this.#prom.attemptFailure.observe(seconds);
    }
  }

  #statusCounter(status: number): { key: string; counter: CounterCell } {
    let entry = this.#statusCounters.get(status);
    if (entry === undefined) {
      const key = statusText(status);
      entry = {
        key,
        counter: this.#metrics.statuses.cell({ code: key, endpoint: this.#endpoint }),
      };
      this.#statusCounters.set(status, entry);
    }
    return entry;
  }

  onDelivered(event: RelayEvent): void {
    this.pending -= 1;
    this.#prom.pending.dec();
    const now = this.#clock.now();
    this.deliveredPerSecond.add(now);
    const ms = Math.max(0, now - event.acceptedAt);
    this.latency.count += 1;
    this.latency.sumMs += ms;
    if (ms > this.latency.maxMs) this.latency.maxMs = ms;
    this.#prom.latency.observe(ms / 1000);
  }
}
