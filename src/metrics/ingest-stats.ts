import type { Counter } from 'prom-client';
import type { RelayMetrics } from './registry.ts';

/** Ingest's figures, for `/debug/vars` (`relay.ingest`) and Prometheus alike. */
export class IngestStats {
  events = 0;
  duplicates = 0;
  readonly requests = new Map<number, number>();
  readonly #metrics: RelayMetrics;
  readonly #byStatus = new Map<number, Counter.Internal>();

  constructor(metrics: RelayMetrics) {
    this.#metrics = metrics;
    metrics.duplicates.inc(0);
    metrics.ingestEvents.inc(0);
  }

  accepted(count: number): void {
    this.events += count;
    this.#metrics.ingestEvents.inc(count);
  }

  /** Pulls the registry notified for the relay's own reads: acknowledged, not relayed. */
  ownReads(count: number): void {
    this.#metrics.ownReads.inc(count);
  }

  duplicate(count: number): void {
    this.duplicates += count;
    this.#metrics.duplicates.inc(count);
  }

  answered(status: number): void {
    this.requests.set(status, (this.requests.get(status) ?? 0) + 1);
    let counter = this.#byStatus.get(status);
    if (counter === undefined) {
      counter = this.#metrics.ingestRequests.labels(String(status));
      this.#byStatus.set(status, counter);
    }
    counter.inc();
  }
}
