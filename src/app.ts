import type { Logger } from 'pino';
import { Broadcaster } from './broadcaster.ts';
import { systemClock, type Clock } from './clock.ts';
import type { RelayConfig } from './config/schema.ts';
import { buildDebugApp } from './debug/routes.ts';
import { buildEndpoint, type Endpoint } from './endpoint/pipeline.ts';
import { BearerTokens } from './ingest/auth.ts';
import { RecentIds } from './ingest/recent-ids.ts';
import { buildIngestApp } from './ingest/routes.ts';
import { IngestStats } from './metrics/ingest-stats.ts';
import { createMetrics, type RelayMetrics } from './metrics/registry.ts';
import type { Sink } from './sink.ts';

export interface RelayDeps {
  readonly log: Logger;
  readonly clock?: Clock;
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
  const endpoints = config.notifications.endpoints.map((c) =>
    buildEndpoint(c, { clock, log: deps.log, metrics }),
  );
  const sinks = endpoints.map((e) => e.sink).filter((s): s is Sink => s !== undefined);
  let listening = false;
  let shuttingDown = false;

  const ingest = buildIngestApp({
    log: deps.log.child({ listener: 'ingest' }),
    clock,
    maxBodySize: config.http.maxBodySize,
    tokens: new BearerTokens(config.http.auth.tokens),
    recentIds: new RecentIds(config.http.dedup.window / 1e6, config.http.dedup.maxIds, clock),
    broadcaster: new Broadcaster(sinks),
    stats: ingestStats,
    isShuttingDown: () => shuttingDown,
  });
  const debug = buildDebugApp({
    log: deps.log.child({ listener: 'debug' }),
    endpoints,
    ingest: ingestStats,
    metrics,
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
    markListening() {
      listening = true;
    },
    beginShutdown() {
      shuttingDown = true;
    },
    async drain(timeoutMs) {
      const deadline = new AbortController();
      const closed = Promise.all(sinks.map((s) => s.close())).then(() => true);
      const timedOut = clock.sleep(timeoutMs, deadline.signal).then(() => false);
      const drained = await Promise.race([closed, timedOut]);
      deadline.abort();
      if (!drained) for (const sink of sinks) sink.destroy();
      return {
        drained,
        undelivered: endpoints.map((e) => ({ endpoint: e.config.name, pending: e.stats.pending })),
      };
    },
  };
}
