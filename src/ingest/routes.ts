import Fastify, {
  LogController,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { readEnvelope, type Accepted } from '../core/event.ts';
import type { SourceConfig } from '../config/sources.ts';
import { ADAPTERS } from '../sources/index.ts';
import { verify } from '../sources/verify.ts';
import type { IngestStats } from '../metrics/ingest-stats.ts';
import type { BearerTokens } from '../core/tokens.ts';
import type { RecentIds } from './recent-ids.ts';
import {
  EnvelopeError,
  errorBody,
  INTERNAL,
  SourceBodyError,
  StorageUnavailableError,
  VerifyError,
} from '../core/errors.ts';

/** What ingest accepts: both envelope versions the registry sends, and plain JSON. */
export const INGEST_MEDIA_TYPES = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
];

/** What a source's route also takes: CloudEvents in structured mode (Harbor, zot). */
const SOURCE_MEDIA_TYPES = [...INGEST_MEDIA_TYPES, 'application/cloudevents+json'];

export interface IngestDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly maxBodySize: number;
  readonly tokens: BearerTokens;
  readonly recentIds: RecentIds;
  /** Keeps accepted events for their endpoints (the relay's broadcaster). */
  readonly broadcaster: EventWriter;
  readonly stats: IngestStats;
  /** How 503 codes name the storage: `journal_full`, or `storage_unavailable` for NATS. */
  readonly storageName: 'journal' | 'storage';
  /** Counts events refused because the journal could not take them. */
  readonly journalRejected: (reason: 'full' | 'write', count: number) => void;
  /** True once shutdown began: ingest then answers 503 so the registry keeps the events. */
  readonly isShuttingDown: () => boolean;
  /** Other registries' webhooks, each on its own path (`sources`). */
  readonly sources?: readonly SourceConfig[] | undefined;
  /** Counts what each source sent: accepted, duplicate, ignored, rejected, unauthorized. */
  readonly sourceCounted?:
    ((source: SourceConfig, result: SourceResult, count: number) => void) | undefined;
}

/** Where ingest hands accepted events: resolves once they are kept, rejects if not. */
export interface EventWriter {
  write(accepted: readonly Accepted[]): Promise<void>;
}

export type SourceResult = 'accepted' | 'duplicate' | 'ignored' | 'rejected' | 'unauthorized';

function refuse(
  reply: FastifyReply,
  status: number,
  error: string,
  message: string,
  extra?: Readonly<Record<string, unknown>>,
) {
  return reply.code(status).send(errorBody(error, message, extra));
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

  /**
   * Hands fresh events to storage (re-sends within the window acknowledged, not kept
   * again) and answers: 202 once they are kept, 503 when storage cannot keep them.
   */
  const accept = async (
    events: readonly Accepted[],
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ accepted: number; duplicates: number } | undefined> => {
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
        await refuse(
          reply,
          503,
          `${deps.storageName}_${full ? 'full' : 'unavailable'}`,
          `${err.message}; the events were not accepted, retry later`,
        );
        return undefined;
      }
      // Not a condition of storage: a defect. Logged whole and answered as one, so the
      // registry retries and whoever reads the log sees a bug, not a shutdown.
      req.log.error({ reqId: req.id, err, events: fresh.length }, 'ingest failed unexpectedly');
      await reply.code(500).send(INTERNAL);
      return undefined;
    }
    deps.stats.accepted(fresh.length);
    if (duplicates > 0) {
      deps.stats.duplicate(duplicates);
      req.log.info(
        { reqId: req.id, duplicates },
        'acknowledged events already accepted (registry re-send)',
      );
    }
    await reply.code(202).send({ accepted: fresh.length, duplicates });
    return { accepted: fresh.length, duplicates };
  };

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

  /** Sender event types already logged as ignored, per source: logged once each. */
  const ignoredSeen = new Set<string>();

  /**
   * One source's route: verify the sender, read its body with the source type's adapter,
   * keep the sender's body beside each event, and accept the events as `/events` does.
   */
  const sourceRoute = (source: SourceConfig): void => {
    const adapter = ADAPTERS[source.type];
    const counted = (result: SourceResult, count = 1) => {
      deps.sourceCounted?.(source, result, count);
    };
    const handler = async (
      req: FastifyRequest<{ Params: { secret?: string } }>,
      reply: FastifyReply,
    ) => {
      if (typeof req.body !== 'string') {
        return unsupportedType(reply, req.headers['content-type'], SOURCE_MEDIA_TYPES);
      }
      try {
        verify(source.auth, req.headers, Buffer.from(req.body), req.params.secret);
      } catch (err) {
        if (!(err instanceof VerifyError)) throw err;
        counted('unauthorized');
        req.log.warn(
          { reqId: req.id, source: source.name, reason: err.message },
          'source request refused: verification failed',
        );
        return refuse(reply, 401, 'unauthorized', `${source.name}: ${err.message}`);
      }
      let body: unknown;
      try {
        body = JSON.parse(req.body);
      } catch (err) {
        counted('rejected');
        const reason = err instanceof Error ? err.message : String(err);
        return refuse(reply, 400, 'malformed_json', `the body is not valid JSON: ${reason}`);
      }
      const receivedAt = deps.clock.now();
      let normalized;
      try {
        normalized = adapter({ headers: req.headers, body, receivedAt });
      } catch (err) {
        if (!(err instanceof SourceBodyError)) throw err;
        counted('rejected');
        return refuse(reply, 400, 'bad_body', `not a ${source.type} webhook body: ${err.message}`);
      }
      if (normalized.kind === 'ignored') {
        counted('ignored');
        const key = `${source.name}\u0000${normalized.type}`;
        if (!ignoredSeen.has(key) && ignoredSeen.size < 10_000) {
          ignoredSeen.add(key);
          req.log.info(
            { source: source.name, type: source.type, event: normalized.type },
            'source event type not mapped: answered 202 and ignored (logged once per type)',
          );
        }
        return reply.code(202).send({ accepted: 0, duplicates: 0, ignored: normalized.type });
      }
      // Envelope senders' events are kept whole already; others keep the sender's body.
      const keepsOriginal = source.type !== 'gitlab' && source.type !== 'distribution';
      const events = normalized.events.map((e) => ({
        ...e,
        relay: {
          source: source.name,
          type: source.type,
          ...(keepsOriginal ? { original: body } : {}),
        },
      }));
      let accepted: Accepted[];
      try {
        accepted = readEnvelope({ events }, receivedAt, source.name);
      } catch (err) {
        if (!(err instanceof EnvelopeError)) throw err;
        counted('rejected');
        return refuse(reply, 400, 'bad_envelope', err.message, { where: err.where });
      }
      const done = await accept(accepted, req, reply);
      if (done !== undefined) {
        counted('accepted', done.accepted);
        if (done.duplicates > 0) counted('duplicate', done.duplicates);
      }
      return reply;
    };
    app.post(source.path, handler);
    // Senders that cannot send a header put the secret in the last path segment.
    if (source.auth.kind === 'path') app.post(`${source.path}/:secret`, handler);
  };

  for (const source of deps.sources ?? []) {
    sourceRoute(source);
    // Every source's series exist from the start, so a scrape shows it before traffic.
    deps.sourceCounted?.(source, 'accepted', 0);
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

  return app;
}

/** POST /events, whatever the query string. */
function isEventsRoute(url: string): boolean {
  return url === '/events' || url.startsWith('/events?');
}

function unsupportedType(
  reply: FastifyReply,
  contentType: string | undefined,
  accepted: readonly string[] = INGEST_MEDIA_TYPES,
) {
  return refuse(
    reply,
    415,
    'unsupported_media_type',
    `Content-Type ${contentType === undefined ? '(none)' : JSON.stringify(contentType)} is not accepted; send one of ${accepted.join(', ')}`,
  );
}
