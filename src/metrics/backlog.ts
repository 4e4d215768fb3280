import { Gauge } from 'prom-client';
import type { Clock } from '../core/clock.ts';
import type { Endpoint } from './endpoint-view.ts';
import type { Journal } from '../journal/journal.ts';
import type { RelayMetrics } from './registry.ts';

/**
 * The journal as the ops listener shows it. Orphaned backlogs (undelivered events of
 * endpoints no longer configured) are counted at start and whenever another process (the
 * CLI) changed the database, not at every scrape: counting a million pending rows takes
 * a while. Dead letters are few and counted at each scrape.
 */
export class JournalView {
  readonly journal: Journal;
  #configured: ReadonlySet<string>;
  orphans = new Map<string, number>();

  constructor(journal: Journal, configured: ReadonlySet<string>, pending: Map<string, number>) {
    this.journal = journal;
    this.#configured = configured;
    this.refresh(pending);
  }

  /** After a reload: which endpoints are configured now. */
  configure(configured: ReadonlySet<string>): void {
    this.#configured = configured;
    this.refresh();
  }

  refresh(pending?: Map<string, number>): void {
    if (pending === undefined) {
      // Committed first, so that the count sees every ack this process made.
      this.journal.flush();
      pending = this.journal.pendingCounts();
    }
    this.orphans = new Map([...pending].filter(([name]) => !this.#configured.has(name)));
  }
}

/**
 * Gauges computed at scrape time: the age of each endpoint's oldest undelivered event
 * (both modes), and with a journal its size, dead letters and orphaned backlogs.
 */
export function registerBacklogMetrics(
  metrics: RelayMetrics,
  endpoints: () => readonly Endpoint[],
  clock: Clock,
  view: JournalView | undefined,
): void {
  const registers = [metrics.register];
  new Gauge({
    name: 'relay_oldest_pending_age_seconds',
    help: "Age of the endpoint's oldest undelivered event (0 when nothing is pending).",
    labelNames: ['endpoint'] as const,
    registers,
    collect() {
      const now = clock.now();
      this.reset();
      for (const e of endpoints()) {
        const at = e.loop?.oldestAcceptedAt();
        this.labels(e.config.name).set(at === undefined ? 0 : Math.max(0, now - at) / 1000);
      }
    },
  });
  if (view === undefined) return;
  new Gauge({
    name: 'relay_journal_bytes',
    help: 'Size on disk of the journal: database file plus write-ahead log.',
    registers,
    collect() {
      this.set(view.journal.bytes);
    },
  });
  new Gauge({
    name: 'relay_journal_max_bytes',
    help: 'storage.maxSize: past it ingest answers 503 (alert on relay_journal_bytes / this).',
    registers,
    collect() {
      this.set(view.journal.maxSize);
    },
  });
  new Gauge({
    name: 'relay_dead_letters',
    help: 'Events in the dead-letter table, per endpoint (list, replay or purge them with the CLI).',
    labelNames: ['endpoint'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of endpoints()) this.labels(e.config.name).set(0);
      for (const [name, n] of view.journal.deadLetterCounts()) this.labels(name).set(n);
    },
  });
  new Gauge({
    name: 'relay_journal_orphaned_pending',
    help: 'Undelivered events kept in the journal for endpoints that are not configured.',
    labelNames: ['endpoint'] as const,
    registers,
    collect() {
      this.reset();
      for (const [name, n] of view.orphans) this.labels(name).set(n);
    },
  });
}
