import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Endpoint } from '../metrics/endpoint-view.ts';
import type { JournalView } from '../metrics/backlog.ts';
import { expvar } from '../metrics/expvar.ts';
import type { IngestStats } from '../metrics/ingest-stats.ts';
import type { RelayMetrics } from '../metrics/registry.ts';
import { errorBody, INTERNAL } from '../core/errors.ts';
import { adminApi, type AdminDeps } from './admin/index.ts';

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
  readonly admin: AdminDeps;
}

/**
 * The operations listener: `/debug/vars`, `/metrics`, `/healthz`, `/readyz`, and the admin
 * API under `/api/v1` with its OpenAPI document (generated from the route schemas).
 */
export function buildDebugApp(deps: DebugDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  app.get('/debug/vars', (_req, reply) =>
    reply.send(
      expvar(
        deps.endpoints(),
        deps.ingest,
        deps.startedAt,
        deps.admin.clock.now(),
        deps.journal,
        deps.config(),
      ),
    ),
  );
  app.get('/metrics', async (_req, reply) => {
    const body = await deps.metrics.register.metrics();
    return reply.type(deps.metrics.register.contentType).send(body);
  });
  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));
  void app.register(swagger, {
    openapi: {
      info: {
        title: 'registry-relay admin API',
        version: '1',
        description:
          'On the ops listener. Reads are open; writes need Authorization: Bearer with one of http.debug.auth.tokens. Every error is JSON: {"error": code, "message": text}.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  void app.register(
    (api, _opts, done) => {
      api.setNotFoundHandler((req, reply) =>
        reply
          .code(404)
          .send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`)),
      );
      api.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
        // Fastify's own refusals (schema validation, a bad body) are the caller's mistake.
        if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
          return reply.code(err.statusCode).send(errorBody('bad_request', err.message));
        }
        req.log.error({ err }, 'admin API failed unexpectedly');
        return reply.code(500).send(INTERNAL);
      });
      api.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
      adminApi(api, deps.admin);
      done();
    },
    { prefix: '/api/v1' },
  );
  const page = statusPage();
  app.get('/', (_req, reply) => page('index.html', reply));
  app.get<{ Params: { file: string } }>('/ui/:file', (req, reply) => page(req.params.file, reply));
  // The published JSON Schema (2020-12) of what the relay delivers, as shipped in schema/.
  const schema = readFileSync(new URL('../../schema/event.schema.json', import.meta.url));
  app.get('/schema/event.json', (_req, reply) =>
    reply.type('application/schema+json').header('cache-control', 'no-cache').send(schema),
  );
  app.get('/readyz', (_req, reply) =>
    deps.isReady()
      ? reply.send({ status: 'ready' })
      : reply.code(503).send({ status: 'not ready', reason: 'starting or shutting down' }),
  );
  return app;
}

/** The status page's files (ui/ at the top of the package, beside src/ and dist/). */
const UI = new URL('../../ui/', import.meta.url);
const PAGE_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
} as const;

/**
 * The status page at `/` and `/ui/*`: static files read once, served with a policy that lets the page
 * load nothing but itself and talk to nothing but this listener.
 */
function statusPage(): (name: string, reply: FastifyReply) => FastifyReply {
  const files = new Map(
    Object.entries(PAGE_FILES).map(([name, type]) => [
      name,
      { type, body: readFileSync(new URL(name, UI)) },
    ]),
  );
  return (name, reply) => {
    const file = files.get(name);
    if (file === undefined) {
      return reply.code(404).send(errorBody('not_found', `no file ${name}`));
    }
    return reply
      .type(file.type)
      .header(
        'content-security-policy',
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      )
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(file.body);
  };
}
