import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Broadcaster } from './broadcaster.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { loadConfig } from '../config/load.ts';
import type { RelayConfig } from '../config/schema.ts';
import { endpointView, type AdminDeps } from '../ops/admin.ts';
import { buildDebugApp } from '../ops/routes.ts';
import { EndpointSet } from './endpoint-set.ts';
import type { Endpoint } from '../metrics/endpoint-view.ts';
import type { ReloadOutcome } from '../config/reload-outcome.ts';
import { ConfigReloads, liveChangeRefusals } from './reload.ts';
import { AttemptLog } from '../history/attempts.ts';
import { EventTrail } from '../history/events.ts';
import { BearerTokens } from '../core/tokens.ts';
import { RecentIds } from '../ingest/recent-ids.ts';
import { buildIngestApp } from '../ingest/routes.ts';
import { IngestStats } from '../metrics/ingest-stats.ts';
import { createMetrics, type RelayMetrics } from '../metrics/registry.ts';
import { Journal } from '../journal/journal.ts';
import { JournalStorage } from '../journal/storage.ts';
import { MemoryStorage } from '../storage/memory.ts';
import {
  ANNOUNCE_EVERY_MS,
  findsPending,
  keepsAttempts,
  keepsDeadLetters,
  knowsInstances,
  noticesOtherWriters,
  type Storage,
} from '../storage/storage.ts';
import { JournalView, registerBacklogMetrics } from '../metrics/backlog.ts';
import { ConfigError } from '../core/errors.ts';

export interface RelayDeps {
  readonly log: Logger;
  readonly clock?: Clock;
  /** Where proxy variables are read; process.env unless a test gives its own. */
  readonly env?: NodeJS.ProcessEnv;
  /** A storage opened beforehand (NATS JetStream connects asynchronously). */
  readonly storage?: Storage | undefined;
  /** The config file the relay runs on: SIGHUP and the admin API's reload read it again. */
  readonly configFile?: string | undefined;
  /** This relay's name among several (attempts log, status page); host and pid by default. */
  readonly instance?: string | undefined;
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

/** Assembles a relay from a validated config. Listening is the caller's (see server.ts). */
export function buildRelay(config: RelayConfig, deps: RelayDeps): Relay {
  const clock = deps.clock ?? systemClock;
  const metrics = createMetrics();
  const ingestStats = new IngestStats(metrics);
  const journal =
    deps.storage === undefined ? openJournal(config, deps.log, metrics, clock) : undefined;
  const storage: Storage =
    deps.storage ??
    (journal === undefined
      ? new MemoryStorage()
      : new JournalStorage(journal, config.storage.window));
  const recentIds = new RecentIds(config.http.dedup.window / 1e6, config.http.dedup.maxIds, clock);
  for (const { id, acceptedAt } of storage.recentIds(clock.now())) {
    recentIds.restore(id, acceptedAt);
  }
  const restored = storage.pendingCounts();
  let current = config;
  const instance = deps.instance ?? `${hostname()}:${String(process.pid)}`;
  const history = config.http.debug;
  const attempts =
    history.attempts.keep === 0
      ? undefined
      : new AttemptLog({
          keep: history.attempts.keep,
          store: history.attempts.store,
          relay: instance,
          durable:
            history.attempts.store === 0 || !keepsAttempts(storage)
              ? undefined
              : storage.attempts({
                  keep: history.attempts.store,
                  maxAgeMs: history.attempts.maxAge / 1e6,
                }),
        });
  const trail = history.events.keep === 0 ? undefined : new EventTrail(history.events.keep);
  const view =
    journal === undefined
      ? undefined
      : new JournalView(
          journal,
          new Set(config.notifications.endpoints.map((e) => e.name)),
          new Map(restored),
        );
  const endpoints = new EndpointSet({
    clock,
    log: deps.log,
    metrics,
    env: deps.env ?? process.env,
    storage,
    handoverMs: () => current.shutdown.timeout / 1e6,
    onRetired: () => {
      view?.refresh();
    },
    attempts,
    trail,
  });
  endpoints.apply(config.notifications.endpoints);
  for (const e of endpoints.list) {
    if (!endpoints.isPaused(e.config.name)) continue;
    deps.log.warn(
      { endpoint: e.config.name },
      'endpoint paused before the restart: it sends nothing until POST /api/v1/endpoints/NAME/resume',
    );
  }
  const configured = (): Set<string> => new Set(endpoints.list.map((e) => e.config.name));
  if (journal !== undefined) reportOrphans(journal, configured(), restored, deps.log);
  storage.registerMetrics(metrics.register);
  if (noticesOtherWriters(storage)) {
    storage.watchOtherWriters(() => {
      view?.refresh();
    });
  }
  registerBacklogMetrics(metrics, () => endpoints.list, clock, view);
  const reloads = new ConfigReloads(metrics, config, clock);
  let listening = false;
  let shuttingDown = false;
  // Once a second: the journal gives freed space back and notices the dead-letters CLI.
  const stopHousekeeping = storage.durable
    ? clock.every(1000, () => {
        storage.tick(clock.now());
        attempts?.tick(clock.now());
      })
    : undefined;
  const tokens = new BearerTokens(config.http.auth.tokens);
  const adminTokens = new BearerTokens(config.http.debug.auth.tokens);

  const reload = (next: RelayConfig): ReloadOutcome => {
    const refused = liveChangeRefusals(current, next);
    if (refused.length > 0) return reloads.failed(refused, deps.log);
    const report = endpoints.apply(next.notifications.endpoints);
    tokens.replace(next.http.auth.tokens);
    adminTokens.replace(next.http.debug.auth.tokens);
    deps.log.level = next.log.level;
    current = next;
    view?.configure(configured());
    return reloads.succeeded(next, report, deps.log);
  };
  const file = deps.configFile;
  let reloading: Promise<unknown> = Promise.resolve();
  const reloadFromFile =
    file === undefined
      ? undefined
      : (): Promise<ReloadOutcome> => {
          const next = reloading.then(async () => {
            try {
              return reload(await loadConfig(file));
            } catch (err) {
              if (err instanceof ConfigError) return reloads.failed(err.problems, deps.log);
              deps.log.error(
                { err },
                'config reload failed unexpectedly; still on the previous config',
              );
              return reloads.failed([err instanceof Error ? err.message : String(err)], deps.log);
            }
          });
          reloading = next;
          return next;
        };

  for (const source of config.sources) {
    // Every source's series exist from the start, so a scrape shows it before traffic.
    metrics.sourceEvents.labels(source.name, source.type, 'accepted').inc(0);
    deps.log.info(
      { source: source.name, type: source.type, path: source.path, auth: source.auth.kind },
      'source configured',
    );
    if (source.auth.kind === 'none') {
      deps.log.warn(
        { source: source.name, path: source.path },
        'source with auth.none: anyone who can reach the ingest listener can post events as it',
      );
    }
  }
  const ingest = buildIngestApp({
    log: deps.log.child({ listener: 'ingest' }),
    clock,
    maxBodySize: config.http.maxBodySize,
    tokens,
    recentIds,
    broadcaster: new Broadcaster(() => endpoints.routes, storage, trail?.accepted.bind(trail)),
    storageName: journal === undefined ? 'storage' : 'journal',
    journalRejected: (reason, count) => {
      metrics.journalRejected.labels(reason).inc(count);
    },
    stats: ingestStats,
    isShuttingDown: () => shuttingDown,
    sources: config.sources,
    sourceCounted: (source, result, count) => {
      metrics.sourceEvents.labels(source.name, source.type, result).inc(count);
    },
  });
  const startedAt = clock.now();
  const admin: AdminDeps = {
    clock,
    endpoints,
    tokens: adminTokens,
    reload: reloadFromFile,
    deadLetters: keepsDeadLetters(storage) ? storage.deadLetters() : undefined,
    attempts,
    trail,
    pendingFor: findsPending(storage) ? (id) => storage.pendingFor(id) : undefined,
    instance,
    startedAt,
    instances: knowsInstances(storage) ? () => storage.instances() : undefined,
  };
  // Relays sharing storage (NATS) tell each other how their endpoints are doing.
  const stopAnnouncing = knowsInstances(storage)
    ? clock.every(ANNOUNCE_EVERY_MS, () => {
        storage
          .announce({
            id: instance,
            startedAt,
            endpoints: endpoints.list.map((e) => endpointView(admin, e, false)),
          })
          .catch((err: unknown) => {
            deps.log.debug({ err }, 'could not report this relay to the others');
          });
      })
    : undefined;
  const debug = buildDebugApp({
    log: deps.log.child({ listener: 'debug' }),
    endpoints: () => endpoints.list,
    config: () => reloads.status(),
    ingest: ingestStats,
    metrics,
    journal: view,
    startedAt,
    isReady: () => listening && !shuttingDown && storage.ready(),
    admin,
  });

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
    },
    beginShutdown() {
      shuttingDown = true;
    },
    reload,
    reloadFailed(problems) {
      return reloads.failed(problems, deps.log);
    },
    reloadFromFile,
    async drain(timeoutMs) {
      const drained = await endpoints.drain(timeoutMs);
      attempts?.flush();
      stopHousekeeping?.();
      stopAnnouncing?.();
      await storage.close();
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

function openJournal(config: RelayConfig, log: Logger, metrics: RelayMetrics, clock: Clock) {
  const { path, sync, maxSize } = config.storage;
  if (path === undefined) return undefined;
  const journal = new Journal(path, {
    clock,
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
  configured: ReadonlySet<string>,
  restored: ReadonlyMap<string, number>,
  log: Logger,
): void {
  for (const [endpoint, pending] of restored) {
    if (configured.has(endpoint)) continue;
    log.warn(
      { endpoint, pending, journal: journal.path },
      'the journal holds undelivered events for an endpoint that is not configured: they are kept until it returns or `registry-relay journal purge --endpoint NAME`',
    );
  }
}
