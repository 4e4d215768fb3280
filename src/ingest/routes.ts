import Fastify, { LogController, type FastifyError } from 'fastify';
import { EnvelopeError, INTERNAL } from '../core/errors.ts';
import { readEnvelope, type Accepted } from '../core/event.ts';
import { acceptor } from './accept.ts';
import type { IngestDeps } from './deps.ts';
import { refuse, SOURCE_MEDIA_TYPES, unsupportedType } from './reply.ts';
import { sourceRoutes } from './sources.ts';

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
  app.addContentTypeParser(SOURCE_MEDIA_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    done(null, body);
  });

  // Callback hooks, not async ones: they run on every request, and a promise each was
  // measurable at saturation.
  app.addHook('onRequest', (req, reply, done) => {
    if (deps.isShuttingDown()) {
      void refuse(reply, 503, 'shutting_down', 'the relay is shutting down; retry later');
      return;
    }
    // Ingest tokens guard the registry envelope route; sources verify their senders.
    if (isEventsRoute(req.url) && !deps.tokens.allows(req.headers.authorization)) {
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
        req.log.error({ reqId: req.id, err }, 'ingest failed unexpectedly');
        return reply.code(500).send(INTERNAL);
    }
  });

  app.setNotFoundHandler((req, reply) =>
    refuse(reply, 404, 'not_found', `no route ${req.method} ${req.url}: POST events to /events`),
  );

  const accept = acceptor(deps);

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
      return refuse(reply, 400, 'bad_envelope', err.message, { where: err.where });
    }

    await accept(events, req, reply);
    return reply;
  });

  sourceRoutes(app, deps, accept);

  return app;
}

/** POST /events, whatever the query string. */
function isEventsRoute(url: string): boolean {
  return url === '/events' || url.startsWith('/events?');
}
