import Fastify, { LogController, type FastifyError, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Broadcaster } from '../broadcaster.ts';
import type { Clock } from '../clock.ts';
import { EnvelopeError, readEnvelope, type Accepted } from '../event.ts';
import { StorageUnavailableError } from '../storage/storage.ts';
import type { IngestStats } from '../metrics/ingest-stats.ts';
import type { BearerTokens } from './auth.ts';
import type { RecentIds } from './recent-ids.ts';

/** What ingest accepts: both envelope versions the registry sends, and plain JSON. */
export const INGEST_MEDIA_TYPES = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
];

export interface IngestDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly maxBodySize: number;
  readonly tokens: BearerTokens;
  readonly recentIds: RecentIds;
  readonly broadcaster: Broadcaster;
  readonly stats: IngestStats;
  /** How 503 codes name the storage: `journal_full`, or `storage_unavailable` for NATS. */
  readonly storageName: 'journal' | 'storage';
  /** Counts events refused because the journal could not take them. */
  readonly journalRejected: (reason: 'full' | 'write', count: number) => void;
  /** True once shutdown began: ingest then answers 503 so the registry keeps the events. */
  readonly isShuttingDown: () => boolean;
}

function refuse(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send({ error, message });
}

/**
 * The ingest listener: `POST /events`. It answers 2xx only once every event is in every
 * matching endpoint's queue, and never 3xx nor 5xx for bad input (the registry would retry
 * a 5xx forever, and a 3xx is lost in the registry's client).
 */
export function buildIngestApp(deps: IngestDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (a pino child each was measurable at saturation); the
    // few lines logged about a request carry its id themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: deps.maxBodySize,
    // The registry keeps connections alive; answer fast on close rather than hang.
    forceCloseConnections: 'idle',
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(INGEST_MEDIA_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    done(null, body);
  });

  // Callback hooks, not async ones: they run on every request, and a promise each was
  // measurable at saturation.
  app.addHook('onRequest', (req, reply, done) => {
    if (deps.isShuttingDown()) {
      void refuse(reply, 503, 'shutting_down', 'the relay is shutting down; retry later');
      return;
    }
    if (!deps.tokens.allows(req.headers.authorization)) {
      void reply.header('www-authenticate', 'Bearer realm="registry-relay"');
      void refuse(reply, 401, 'unauthorized', 'missing or wrong bearer token');
      return;
    }
    done();
  });

  app.addHook('onResponse', (_req, reply, done) => {
    deps.stats.answered(reply.statusCode);
    done();
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return refuse(
          reply,
          413,
          'payload_too_large',
          `body is larger than http.maxBodySize (${deps.maxBodySize} bytes)`,
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_TYPE':
      case 'FST_ERR_CTP_EMPTY_TYPE':
        return unsupportedType(reply, req.headers['content-type']);
      default:
        if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
          return refuse(reply, err.statusCode, 'bad_request', err.message);
        }
        req.log.error({ reqId: req.id, err }, 'ingest failed');
        return refuse(reply, 500, 'internal', 'internal error; the events were not accepted');
    }
  });

  app.setNotFoundHandler((req, reply) =>
    refuse(reply, 404, 'not_found', `no route ${req.method} ${req.url}: POST events to /events`),
  );

  app.post('/events', async (req, reply) => {
    if (typeof req.body !== 'string') return unsupportedType(reply, req.headers['content-type']);
    if (req.body.trim() === '') return refuse(reply, 400, 'empty_body', 'the body is empty');
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return refuse(reply, 400, 'malformed_json', `the body is not valid JSON: ${reason}`);
    }
    let events: Accepted[];
    try {
      events = readEnvelope(parsed, deps.clock.now());
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      return reply
        .code(400)
        .send({ error: 'bad_envelope', message: err.message, where: err.where });
    }

    const fresh: Accepted[] = [];
    const ids = new Set<string>();
    for (const accepted of events) {
      const id = accepted.event.id;
      if (ids.has(id) || deps.recentIds.has(id)) continue;
      ids.add(id);
      fresh.push(accepted);
    }
    const duplicates = events.length - fresh.length;
    // Recorded before the hand-over so a concurrent re-send is caught, and forgotten again
    // if the hand-over fails: a refused request's events must stay re-sendable.
    for (const id of ids) deps.recentIds.add(id);
    try {
      await deps.broadcaster.write(fresh);
    } catch (err) {
      for (const id of ids) deps.recentIds.delete(id);
      if (err instanceof StorageUnavailableError) {
        const full = err.code === 'RELAY_STORAGE_FULL';
        deps.journalRejected(full ? 'full' : 'write', fresh.length);
        req.log.error(
          { reqId: req.id, code: err.code, events: fresh.length, err: full ? undefined : err },
          `events refused with 503: ${err.message}`,
        );
        void reply.header('retry-after', '10');
        return refuse(
          reply,
          503,
          `${deps.storageName}_${full ? 'full' : 'unavailable'}`,
          `${err.message}; the events were not accepted, retry later`,
        );
      }
      req.log.warn({ reqId: req.id, err }, 'an endpoint refused events while shutting down');
      return refuse(reply, 503, 'shutting_down', 'the relay is shutting down; retry later');
    }
    deps.stats.accepted(fresh.length);
    if (duplicates > 0) {
      deps.stats.duplicate(duplicates);
      req.log.info(
        { reqId: req.id, duplicates },
        'acknowledged events already accepted (registry re-send)',
      );
    }
    return reply.code(202).send({ accepted: fresh.length, duplicates });
  });

  return app;
}

function unsupportedType(reply: FastifyReply, contentType: string | undefined) {
  return refuse(
    reply,
    415,
    'unsupported_media_type',
    `Content-Type ${contentType === undefined ? '(none)' : JSON.stringify(contentType)} is not accepted; send one of ${INGEST_MEDIA_TYPES.join(', ')}`,
  );
}
