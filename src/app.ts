import type { Logger } from 'pino';
import { Broadcaster, type Route } from './broadcaster.ts';
import { systemClock, type Clock } from './clock.ts';
import type { RelayConfig } from './config/schema.ts';
import { buildDebugApp } from './debug/routes.ts';
import { buildEndpoint, type Endpoint } from './endpoint/pipeline.ts';
import { BearerTokens } from './ingest/auth.ts';
import { RecentIds } from './ingest/recent-ids.ts';
import { buildIngestApp } from './ingest/routes.ts';
import { IngestStats } from './metrics/ingest-stats.ts';
import { createMetrics, type RelayMetrics } from './metrics/registry.ts';
import { Journal } from './journal/journal.ts';
import { JournalStorage } from './journal/storage.ts';
import { MemoryStorage } from './storage/memory.ts';
import type { Storage } from './storage/storage.ts';
import { JournalView, registerBacklogMetrics } from './metrics/backlog.ts';
import type { EventFacts } from './event.ts';

export interface RelayDeps {
  readonly log: Logger;
  readonly clock?: Clock;
  /** Where proxy variables are read; process.env unless a test gives its own. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface DrainReport {
  /** True when every queue emptied before the deadline. */
  readonly drained: boolean;
  readonly undelivered: readonly { readonly endpoint: string; readonly pending: number }[];
}

/** A built relay: both applications and every endpoint, nothing listening yet. */
export interface Relay {
  readonly config: RelayConfig;
  readonly endpoints: readonly Endpoint[];
  readonly ingest: ReturnType<typeof buildIngestApp>;
  readonly debug: ReturnType<typeof buildDebugApp>;
  readonly metrics: RelayMetrics;
  readonly ingestStats: IngestStats;
  /** Where accepted events wait: memory, or the journal when `storage.path` is set. */
  readonly storage: Storage;
  /** The durable journal, when `storage.path` is set. */
  readonly journal: Journal | undefined;
  /** Set once both listeners listen; `/readyz` reports it. */
  markListening(): void;
  /** From now on `/readyz` fails and ingest answers 503; queues keep delivering. */
  beginShutdown(): void;
  /** Delivers what is queued until `timeoutMs`, then abandons the rest. */
  drain(timeoutMs: number): Promise<DrainReport>;
}

/** Assembles a relay from a validated config. Listening is the caller's (see server.ts). */
export function buildRelay(config: RelayConfig, deps: RelayDeps): Relay {
  const clock = deps.clock ?? systemClock;
  const metrics = createMetrics();
  const ingestStats = new IngestStats(metrics);
  const journal = openJournal(config, deps.log, metrics);
  const storage: Storage =
    journal === undefined
      ? new MemoryStorage()
      : new JournalStorage(journal, config.storage.window);
  const recentIds = new RecentIds(config.http.dedup.window / 1e6, config.http.dedup.maxIds, clock);
  for (const { id, acceptedAt } of storage.recentIds(clock.now())) {
    recentIds.restore(id, acceptedAt);
  }
  const restored = storage.pendingCounts();
  const endpoints = config.notifications.endpoints.map((c) =>
    buildEndpoint(c, {
      clock,
      log: deps.log,
      metrics,
      env: deps.env ?? process.env,
      storage,
    }),
  );
  if (journal !== undefined) reportOrphans(journal, endpoints, restored, deps.log);
  const view =
    journal === undefined
      ? undefined
      : new JournalView(journal, new Set(endpoints.map((e) => e.config.name)), new Map(restored));
  if (storage instanceof JournalStorage) {
    storage.onChangedElsewhere = () => {
      view?.refresh();
    };
  }
  registerBacklogMetrics(metrics, endpoints, clock, view);
  const routes: Route[] = endpoints.flatMap((e) => {
    if (e.loop === undefined) return [];
    const filtered = metrics.filtered.labels(e.config.name);
    filtered.inc(0);
    const accepts = (facts: EventFacts): boolean => {
      if (e.filter.accepts(facts)) return true;
      filtered.inc();
      return false;
    };
    return [{ name: e.config.name, accepts }];
  });
  const loops = endpoints.flatMap((e) => (e.loop === undefined ? [] : [e.loop]));
  let listening = false;
  let shuttingDown = false;
  // Once a second: the journal gives freed space back and notices the dead-letters CLI.
  const housekeeping = storage.durable
    ? setInterval(() => {
        storage.tick(clock.now());
      }, 1000).unref()
    : undefined;

  const ingest = buildIngestApp({
    log: deps.log.child({ listener: 'ingest' }),
    clock,
    maxBodySize: config.http.maxBodySize,
    tokens: new BearerTokens(config.http.auth.tokens),
    recentIds,
    broadcaster: new Broadcaster(routes, storage),
    journalRejected: (reason, count) => {
      metrics.journalRejected.labels(reason).inc(count);
    },
    stats: ingestStats,
    isShuttingDown: () => shuttingDown,
  });
  const debug = buildDebugApp({
    log: deps.log.child({ listener: 'debug' }),
    endpoints,
    ingest: ingestStats,
    metrics,
    journal: view,
    startedAt: Date.now(),
    isReady: () => listening && !shuttingDown,
  });

  return {
    config,
    endpoints,
    ingest,
    debug,
    metrics,
    ingestStats,
    storage,
    journal,
    markListening() {
      listening = true;
    },
    beginShutdown() {
      shuttingDown = true;
    },
    async drain(timeoutMs) {
      const deadline = new AbortController();
      const closed = Promise.all(loops.map((l) => l.close())).then(() => true);
      const timedOut = clock.sleep(timeoutMs, deadline.signal).then(() => false);
      const drained = await Promise.race([closed, timedOut]);
      deadline.abort();
      if (!drained) for (const loop of loops) loop.destroy();
      if (housekeeping !== undefined) clearInterval(housekeeping);
      storage.close();
      return {
        drained,
        undelivered: endpoints.map((e) => ({ endpoint: e.config.name, pending: e.stats.pending })),
      };
    },
  };
}

function openJournal(config: RelayConfig, log: Logger, metrics: RelayMetrics) {
  const { path, sync, maxSize } = config.storage;
  if (path === undefined) return undefined;
  const journal = new Journal(path, {
    sync,
    maxSize,
    recentIds: { windowMs: config.http.dedup.window / 1e6, maxIds: config.http.dedup.maxIds },
  });
  journal.onCommit = (seconds) => {
    metrics.journalCommit.observe(seconds);
  };
  journal.onError = (err, lost) => {
    // Refused appends were answered 503; unrecorded acks mean re-delivery after a restart.
    log.error({ err, ...lost }, 'journal commit failed');
  };
  log.info({ path: journal.path, sync, maxSize, bytes: journal.bytes }, 'journal open');
  return journal;
}

/** Undelivered events of endpoints no longer configured: kept, and said so. */
function reportOrphans(
  journal: Journal,
  endpoints: readonly Endpoint[],
  restored: ReadonlyMap<string, number>,
  log: Logger,
): void {
  const configured = new Set(endpoints.map((e) => e.config.name));
  for (const [endpoint, pending] of restored) {
    if (configured.has(endpoint)) continue;
    log.warn(
      { endpoint, pending, journal: journal.path },
      'the journal holds undelivered events for an endpoint that is not configured: they are kept until it returns or `registry-relay journal purge --endpoint NAME`',
    );
  }
}
