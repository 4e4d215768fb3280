import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { errorBody } from '../core/errors.ts';
import { buildRelay, type DrainReport, type Relay, type RelayDeps } from './app.ts';
import { systemClock } from '../core/clock.ts';
import type { RelayConfig } from '../config/schema.ts';
import { openStorage } from './storage.ts';
import { defaultInstance, openTracing } from './tracing.ts';

export interface RunningRelay {
  readonly relay: Relay;
  /** Base URLs of the two listeners, e.g. http://127.0.0.1:5080 */
  readonly ingestUrl: string;
  readonly debugUrl: string;
  /**
   * Graceful shutdown: readiness fails and ingest answers 503 at once, queues drain until
   * `shutdown.timeout`, what is left is logged per endpoint, then both listeners close.
   * Safe to call twice (the second call returns the first's result).
   */
  stop(): Promise<DrainReport>;
}

function baseUrl(app: { server: { address(): unknown } }): string {
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}

/** Builds a relay and makes both listeners listen. */
export async function startRelay(config: RelayConfig, deps: RelayDeps): Promise<RunningRelay> {
  const nats = config.storage.nats;
  let debugPort = config.http.debug.addr.port;
  let storage = deps.storage;
  if (storage === undefined && nats !== undefined) {
    // While NATS is tried (storage.nats.startTimeout), the ops listener answers /healthz,
    // so an orchestrator's liveness probe does not restart a relay that is only waiting.
    const waiting = await listenWhileStarting(config, deps.log);
    try {
      storage = await openStorage(config, { log: deps.log, clock: deps.clock ?? systemClock });
    } finally {
      debugPort = (waiting.server.address() as AddressInfo).port;
      await waiting.close();
    }
  }
  const instance = deps.instance ?? defaultInstance();
  const tracing =
    deps.tracing ?? (await openTracing(config, deps.env ?? process.env, deps.log, instance));
  const relay = buildRelay(config, { ...deps, storage, instance, tracing });
  try {
    await relay.ingest.listen({ host: config.http.addr.host, port: config.http.addr.port });
    await relay.debug.listen({ host: config.http.debug.addr.host, port: debugPort });
  } catch (err) {
    await Promise.allSettled([relay.ingest.close(), relay.debug.close()]);
    relay.endpoints.forEach((e) => e.loop?.destroy());
    await relay.storage.close();
    await tracing?.shutdown();
    throw err;
  }
  relay.markListening();
  const ingestUrl = baseUrl(relay.ingest);
  const debugUrl = baseUrl(relay.debug);
  deps.log.info(
    {
      ingest: ingestUrl,
      debug: debugUrl,
      endpoints: config.notifications.endpoints.map((e) => e.name),
    },
    'registry-relay listening',
  );

  let stopping: Promise<DrainReport> | undefined;
  const stop = async (): Promise<DrainReport> => {
    relay.beginShutdown();
    const timeoutMs = config.shutdown.timeout / 1e6;
    deps.log.info({ timeoutMs }, 'shutting down: ingest refuses new events, draining queues');
    const report = await relay.drain(timeoutMs);
    for (const { endpoint, pending } of report.undelivered) {
      if (pending > 0) {
        deps.log.warn({ endpoint, undelivered: pending }, 'events left undelivered at shutdown');
      } else {
        deps.log.info({ endpoint, undelivered: 0 }, 'endpoint drained');
      }
    }
    await Promise.allSettled([relay.ingest.close(), relay.debug.close()]);
    deps.log.info({ drained: report.drained }, 'registry-relay stopped');
    return report;
  };
  return {
    relay,
    ingestUrl,
    debugUrl,
    stop: () => (stopping ??= stop()),
  };
}

/**
 * The ops listener while the relay cannot be built yet (waiting for NATS): alive, not
 * ready, and nothing else. The relay's own ops listener takes the same port after it.
 */
async function listenWhileStarting(config: RelayConfig, log: Logger) {
  const app = Fastify({ loggerInstance: log.child({ listener: 'debug' }) });
  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', (_req, reply) =>
    reply.code(503).send({ status: 'not ready', reason: 'starting: waiting for storage.nats' }),
  );
  app.setNotFoundHandler((_req, reply) =>
    reply
      .code(503)
      .send(errorBody('starting', 'the relay is starting: waiting for storage.nats; retry later')),
  );
  await app.listen({ host: config.http.debug.addr.host, port: config.http.debug.addr.port });
  log.info({ debug: baseUrl(app) }, 'waiting for NATS; the ops listener answers /healthz');
  return app;
}
