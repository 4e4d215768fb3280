import type { Logger } from 'pino';
import { Broadcaster } from './broadcaster.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { RelayConfig } from '../config/schema.ts';
import { endpointView, type AdminDeps } from '../ops/admin/index.ts';
import { buildDebugApp } from '../ops/routes.ts';
import { EndpointSet } from './endpoint-set.ts';
import type { Endpoint } from '../metrics/endpoint-view.ts';
import type { ReloadOutcome } from '../config/reload-outcome.ts';
import { ConfigReloads, fileReloader, liveChangeRefusals } from './reload.ts';
import { AttemptLog } from '../history/attempts.ts';
import { EventTrail } from '../history/events.ts';
import { BearerTokens } from '../core/tokens.ts';
import { RecentIds } from '../ingest/recent-ids.ts';
import { buildIngestApp } from '../ingest/routes.ts';
import { IngestStats } from '../metrics/ingest-stats.ts';
import { createMetrics, type RelayMetrics } from '../metrics/registry.ts';
import type { Journal } from '../journal/journal.ts';
import {
  ANNOUNCE_EVERY_MS,
  findsPending,
  keepsAttempts,
  keepsDeadLetters,
  knowsInstances,
  noticesOtherWriters,
  type InstanceReport,
  type Storage,
} from '../storage/storage.ts';
import { JournalView, registerBacklogMetrics } from '../metrics/backlog.ts';
import { openLocalStorage, type OpenedStorage } from './storage.ts';
import { accepting } from './whereabouts.ts';
import { DeadLetters } from '../storage/dead-letters.ts';
import { Registries } from '../registry/registries.ts';
import { registryMetrics } from '../metrics/registries.ts';
import { buildReconciliation, reconcileView } from './reconciliation.ts';
import { keeper } from '../ingest/accept.ts';
import type { Tracing } from '../core/tracing.ts';
import { defaultInstance } from './tracing.ts';
import type { IngestDeps } from '../ingest/deps.ts';

export interface RelayDeps {
  readonly log: Logger;
  readonly clock?: Clock;
  /** Where proxy variables are read; process.env unless a test gives its own. */
  readonly env?: NodeJS.ProcessEnv;
  /** A storage opened beforehand (openStorage; NATS connects asynchronously). */
  readonly storage?: OpenedStorage | undefined;
  /** The config file the relay runs on: SIGHUP and the admin API's reload read it again. */
  readonly configFile?: string | undefined;
  /** This relay's name among several (attempts log, status page); host and pid by default. */
  readonly instance?: string | undefined;
  /** Tracing, when it is on (openTracing; startRelay opens it from the config). */
  readonly tracing?: Tracing | undefined;
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
  /**
   * Applies a new config to the running relay: endpoints by name (see EndpointSet), ingest
   * tokens, log level, shutdown timeout. Refused, and nothing changed, when it changes what
   * cannot change live (listeners, storage).
   */
  reload(next: RelayConfig): ReloadOutcome;
  /** Records a reload that failed before it reached the relay (an invalid file). */
  reloadFailed(problems: readonly string[]): ReloadOutcome;
  /**
   * Reads the config file again and applies it (SIGHUP, `POST /api/v1/reload`), one
   * reload at a time; undefined when the relay was built without a file.
   */
  readonly reloadFromFile: (() => Promise<ReloadOutcome>) | undefined;
  /** Delivers what is queued until `timeoutMs`, then abandons the rest. */
  drain(timeoutMs: number): Promise<DrainReport>;
}

/**
 * Assembles a relay from a validated config: the composition root, read top to bottom as
 * the data flows. Listening is the caller's (see server.ts).
 */
export function buildRelay(config: RelayConfig, deps: RelayDeps): Relay {
  const clock = deps.clock ?? systemClock;
  const log = deps.log;
  let current = config;
  const metrics = createMetrics();
  const opened = deps.storage ?? openLocalStorage(config, { log, clock, metrics });
  const { storage, journal } = opened;
  const restored = storage.pendingCounts();
  const instance = deps.instance ?? defaultInstance();
  const tracing = deps.tracing;
  tracing?.onExport((ok, spans) => {
    metrics.traceSpans.labels(ok ? 'ok' : 'failed').inc(spans);
  });
  const { attempts, trail } = buildHistory(config.http.debug, storage, instance);
  const view = journal && new JournalView(journal, configuredNames(config), new Map(restored));
  const registries =
    config.registries.length === 0
      ? undefined
      : new Registries(config.registries, {
          clock,
          log: log.child({ component: 'registries' }),
          listener: registryMetrics(
            metrics,
            config.registries.map((r) => r.name),
          ),
          env: deps.env ?? process.env,
          sources: new Map(
            config.sources.flatMap((s) => (s.registry === undefined ? [] : [[s.name, s.registry]])),
          ),
          dedupWindowMs: config.http.dedup.window / 1e6,
          onResolved: (...resolved) => {
            late.resolved?.(...resolved);
          },
        });
  /** Set once reconciliation is built: a resolved tag is then known to it. */
  const late: {
    resolved?:
      ((registry: string, repository: string, tag: string, digest: string) => void) | undefined;
  } = {};
  const endpoints = new EndpointSet({
    clock,
    log,
    metrics,
    env: deps.env ?? process.env,
    storage,
    handoverMs: () => current.shutdown.timeout / 1e6,
    onRetired: () => view?.refresh(),
    attempts,
    trail,
    images: registries,
    tracing,
  });
  endpoints.apply(config.notifications.endpoints);
  reportRestored(endpoints, restored, opened, log);
  storage.registerMetrics(metrics.register);
  if (noticesOtherWriters(storage)) storage.watchOtherWriters(() => view?.refresh());
  registerBacklogMetrics(metrics, () => endpoints.list, clock, view);

  const reloads = new ConfigReloads(metrics, config, clock);
  const tokens = new BearerTokens(config.http.auth.tokens);
  const adminTokens = new BearerTokens(config.http.debug.auth.tokens);
  const reload = (next: RelayConfig): ReloadOutcome => {
    const refused = liveChangeRefusals(current, next);
    if (refused.length > 0) return reloads.failed(refused, log);
    const report = endpoints.apply(next.notifications.endpoints);
    tokens.replace(next.http.auth.tokens);
    adminTokens.replace(next.http.debug.auth.tokens);
    log.level = next.log.level;
    current = next;
    view?.configure(configuredNames(next));
    return reloads.succeeded(next, report, log);
  };
  const reloadFromFile =
    deps.configFile === undefined ? undefined : fileReloader(deps.configFile, reload, reloads, log);

  let listening = false;
  let shuttingDown = false;
  const ingestStats = new IngestStats(metrics);
  const reconciliation = buildReconciliation({
    plans: config.registries,
    registries,
    storage,
    instance,
    clock,
    log,
    metrics,
  });
  late.resolved = reconciliation?.resolved;
  const ingestDeps: IngestDeps = {
    log: log.child({ listener: 'ingest' }),
    clock,
    maxBodySize: config.http.maxBodySize,
    tokens,
    recentIds: restoredIds(config, storage, clock),
    broadcaster: new Broadcaster(
      () => endpoints.routes,
      storage,
      trail === undefined ? undefined : accepting(trail),
    ),
    storageName: opened.kind === 'journal' ? 'journal' : 'storage',
    journalRejected: (reason, count) => {
      metrics.journalRejected.labels(reason).inc(count);
    },
    stats: ingestStats,
    isShuttingDown: () => shuttingDown,
    sources: config.sources,
    registries,
    tags: reconciliation?.watch,
    sourceCounted: (source, result, count) => {
      metrics.sourceEvents.labels(source.name, source.type, result).inc(count);
    },
    tracing,
  };
  const ingest = buildIngestApp(ingestDeps);
  const startedAt = clock.now();
  const admin: AdminDeps = {
    clock,
    endpoints,
    tokens: adminTokens,
    reload: reloadFromFile,
    deadLetters: keepsDeadLetters(storage)
      ? new DeadLetters(storage.deadLetters(), () => endpoints.list.map((e) => e.config.name))
      : undefined,
    attempts,
    trail,
    pendingFor: findsPending(storage) ? (id) => storage.pendingFor(id) : undefined,
    instance,
    startedAt,
    instances: knowsInstances(storage) ? () => storage.instances() : undefined,
    registries:
      registries === undefined
        ? undefined
        : () =>
            registries.states().map((s) => ({
              ...s,
              reconcile: reconcileView(reconciliation?.reconcilers.get(s.name)),
            })),
    reconcile:
      reconciliation === undefined
        ? undefined
        : (name) => reconciliation.reconcilers.get(name)?.runNow(),
  };
  const debug = buildDebugApp({
    log: log.child({ listener: 'debug' }),
    endpoints: () => endpoints.list,
    config: () => reloads.status(),
    ingest: ingestStats,
    metrics,
    journal: view,
    startedAt,
    isReady: () => listening && !shuttingDown && storage.ready(),
    admin,
  });
  const stopPeriodic = startPeriodicWork(clock, log, storage, attempts, () => ({
    id: instance,
    startedAt,
    endpoints: endpoints.list.map((e) => endpointView(admin, e, false)),
  }));

  return {
    get config() {
      return current;
    },
    get endpoints() {
      return endpoints.list;
    },
    ingest,
    debug,
    metrics,
    ingestStats,
    storage,
    journal,
    markListening() {
      listening = true;
      // Walks start once the relay takes events, their reports going the events' way.
      reconciliation?.start(keeper(ingestDeps));
    },
    beginShutdown() {
      shuttingDown = true;
    },
    reload,
    reloadFailed(problems) {
      return reloads.failed(problems, log);
    },
    reloadFromFile,
    async drain(timeoutMs) {
      const drained = await endpoints.drain(timeoutMs);
      attempts?.flush();
      stopPeriodic();
      await reconciliation?.stop();
      await storage.close();
      await registries?.close();
      await tracing?.shutdown();
      return {
        drained,
        undelivered: endpoints.list.map((e) => ({
          endpoint: e.config.name,
          pending: e.stats.pending,
        })),
      };
    },
  };
}

function configuredNames(config: RelayConfig): Set<string> {
  return new Set(config.notifications.endpoints.map((e) => e.name));
}

/** Ingest's memory of recent ids, with those a durable backend kept from before a restart. */
function restoredIds(config: RelayConfig, storage: Storage, clock: Clock): RecentIds {
  const ids = new RecentIds(config.http.dedup.window / 1e6, config.http.dedup.maxIds, clock);
  for (const { id, acceptedAt } of storage.recentIds(clock.now())) ids.restore(id, acceptedAt);
  return ids;
}

/** The attempts log and the recent events' whereabouts, as `http.debug` sets them. */
function buildHistory(
  debug: RelayConfig['http']['debug'],
  storage: Storage,
  instance: string,
): { attempts: AttemptLog | undefined; trail: EventTrail | undefined } {
  const { attempts: a, events } = debug;
  const durable =
    a.store === 0 || !keepsAttempts(storage)
      ? undefined
      : storage.attempts({ keep: a.store, maxAgeMs: a.maxAge / 1e6 });
  return {
    attempts:
      a.keep === 0
        ? undefined
        : new AttemptLog({ keep: a.keep, store: a.store, relay: instance, durable }),
    trail: events.keep === 0 ? undefined : new EventTrail(events.keep),
  };
}

/**
 * Once a second a durable backend keeps itself tidy (the journal gives freed space back and
 * notices the dead-letters CLI) and the attempts log reaches its store; relays sharing a
 * backend (NATS) tell each other how their endpoints are doing. Returns what stops it.
 */
function startPeriodicWork(
  clock: Clock,
  log: Logger,
  storage: Storage,
  attempts: AttemptLog | undefined,
  report: () => InstanceReport,
): () => void {
  const stops: (() => void)[] = [];
  if (storage.durable) {
    stops.push(
      clock.every(1000, () => {
        storage.tick(clock.now());
        attempts?.tick(clock.now());
      }),
    );
  }
  if (knowsInstances(storage)) {
    stops.push(
      clock.every(ANNOUNCE_EVERY_MS, () => {
        storage.announce(report()).catch((err: unknown) => {
          log.debug({ err }, 'could not report this relay to the others');
        });
      }),
    );
  }
  return () => {
    for (const stop of stops) stop();
  };
}

/** What a restart found: endpoints still paused, and events kept for endpoints now gone. */
function reportRestored(
  endpoints: EndpointSet,
  restored: ReadonlyMap<string, number>,
  opened: OpenedStorage,
  log: Logger,
): void {
  for (const e of endpoints.list) {
    if (!endpoints.isPaused(e.config.name)) continue;
    log.warn(
      { endpoint: e.config.name },
      'endpoint paused before the restart: it sends nothing until POST /api/v1/endpoints/NAME/resume',
    );
  }
  const journal = opened.journal;
  if (journal === undefined) return;
  const configured = new Set(endpoints.list.map((e) => e.config.name));
  for (const [endpoint, pending] of restored) {
    if (configured.has(endpoint)) continue;
    log.warn(
      { endpoint, pending, journal: journal.path },
      'the journal holds undelivered events for an endpoint that is not configured: they are kept until it returns or `registry-relay journal purge --endpoint NAME`',
    );
  }
}
