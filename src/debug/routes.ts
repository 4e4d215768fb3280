import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Endpoint } from '../pipeline.ts';
import type { JournalView } from '../metrics/backlog.ts';
import { expvar } from '../metrics/expvar.ts';
import type { IngestStats } from '../metrics/ingest-stats.ts';
import type { RelayMetrics } from '../metrics/registry.ts';

export interface DebugDeps {
  readonly log: Logger;
  /** The endpoints configured now. */
  readonly endpoints: () => readonly Endpoint[];
  readonly ingest: IngestStats;
  readonly metrics: RelayMetrics;
  readonly journal: JournalView | undefined;
  /** The config in force and its reloads, for `relay.config`. */
  readonly config: () => unknown;
  readonly startedAt: number;
  /** Ready means listening and not shutting down. */
  readonly isReady: () => boolean;
}

/** The operations listener: `/debug/vars`, `/metrics`, `/healthz`, `/readyz`. */
export function buildDebugApp(deps: DebugDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  app.get('/debug/vars', (_req, reply) =>
    reply.send(expvar(deps.endpoints(), deps.ingest, deps.startedAt, deps.journal, deps.config())),
  );
  app.get('/metrics', async (_req, reply) => {
    const body = await deps.metrics.register.metrics();
    return reply.type(deps.metrics.register.contentType).send(body);
  });
  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', (_req, reply) =>
    deps.isReady()
      ? reply.send({ status: 'ready' })
      : reply.code(503).send({ status: 'not ready', reason: 'starting or shutting down' }),
  );
  return app;
}
