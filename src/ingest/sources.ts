import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import type { SourceConfig } from '../config/sources.ts';
import { EnvelopeError, SourceBodyError, VerifyError } from '../core/errors.ts';
import { readEnvelope, type Accepted } from '../core/event.ts';
import { provisionalId } from '../core/image.ts';
import { ADAPTERS } from '../sources/index.ts';
import { verify } from '../sources/verify.ts';
import type { Accept } from './accept.ts';
import type { IngestDeps, SourceResult } from './deps.ts';
import { refuse, SOURCE_MEDIA_TYPES, unsupportedType } from './reply.ts';

/**
 * Other registries' webhooks, each on its own path (`sources`): verified, read by the
 * source type's adapter into registry events that keep the sender's body, and accepted
 * as `/events` accepts them.
 */
export function sourceRoutes(
  app: FastifyInstance<
    RawServerDefault,
    RawRequestDefaultExpression,
    RawReplyDefaultExpression,
    Logger
  >,
  deps: IngestDeps,
  accept: Accept,
): void {
  /** Sender event types already logged as ignored, per source: logged once each. */
  const ignoredSeen = new Set<string>();
  /** Makes provisional ids unique within one millisecond. */
  let provisionalSeq = 0;

  /**
   * One source's route: verify the sender, read its body with the source type's adapter,
   * keep the sender's body beside each event, and accept the events as `/events` does.
   */
  /**
   * A push or pull naming a tag and no digest, about a configured registry: its id is made
   * unique per request, and the endpoints' stage resolves the tag and derives the id from
   * the digest (so a re-push of the tag is a new event, a re-send the same one).
   */
  const unresolved = (e: Record<string, unknown>, source: string): boolean => {
    const registries = deps.registries;
    if (registries === undefined) return false;
    const target = e['target'] as Record<string, unknown> | undefined;
    if (target === undefined || target['digest'] !== undefined || typeof target['tag'] !== 'string')
      return false;
    if (e['action'] !== 'push' && e['action'] !== 'pull') return false;
    const host = (e['request'] as Record<string, unknown> | undefined)?.['host'];
    return registries.serves(typeof host === 'string' ? host : undefined, source);
  };

  const sourceRoute = (source: SourceConfig): void => {
    const adapter = ADAPTERS[source.type];
    const counted = (result: SourceResult, count = 1) => {
      deps.sourceCounted?.(source, result, count);
    };
    const handler = async (
      req: FastifyRequest<{ Params: { secret?: string }; Querystring: { event?: unknown } }>,
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
        const declared = req.query.event;
        normalized = adapter({
          headers: req.headers,
          body,
          receivedAt,
          // `?event=a&event=b` declares no one event: the adapter names it as given.
          declared: Array.isArray(declared)
            ? declared.join(',')
            : typeof declared === 'string'
              ? declared
              : undefined,
        });
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
        id: unresolved(e, source.name)
          ? provisionalId(String(e['id']), `${receivedAt.toString(36)}.${String(provisionalSeq++)}`)
          : e['id'],
        relay: {
          // A kind's detail, which the adapter put at relay.<action>.
          ...(e['relay'] as Record<string, unknown> | undefined),
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
}
