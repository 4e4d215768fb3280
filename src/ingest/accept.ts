import type { FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL, StorageUnavailableError } from '../core/errors.ts';
import type { Accepted } from '../core/event.ts';
import type { IngestSpan, Tracing } from '../core/tracing.ts';
import type { IngestDeps } from './deps.ts';
import { refuse } from './reply.ts';

/** What one request came to: how many events were kept, and how many were re-sends. */
export interface AcceptedCount {
  readonly accepted: number;
  readonly duplicates: number;
}

/** Answers a request; resolves with its counts, or undefined when it was refused. */
export type Accept = (
  events: readonly Accepted[],
  req: FastifyRequest,
  reply: FastifyReply,
) => Promise<AcceptedCount | undefined>;

/**
 * The one way events enter the relay, for `/events` and every source: re-sends within the
 * window acknowledged and not kept again, the rest handed to storage, then the answer:
 * 202 once they are kept, 503 when storage cannot keep them, 500 for a defect.
 */
/**
 * Keeps fresh events: re-sends within the window (and late registry events for what
 * reconciliation reported) acknowledged and not kept again, the rest handed to storage.
 * Resolves with the counts once they are kept, or with storage's error (then nothing of the
 * call is remembered, so it can be sent again). Ingest's routes and reconciliation
 * both go through it.
 */
export function keeper(deps: IngestDeps) {
  return async (
    events: readonly Accepted[],
  ): Promise<
    | (AcceptedCount & { readonly ok: true })
    | { readonly ok: false; readonly err: unknown; readonly fresh: number }
  > => {
    const fresh: Accepted[] = [];
    const ids = new Set<string>();
    let ownReads = 0;
    for (const accepted of events) {
      if (accepted.ownRead === true) {
        ownReads++;
        continue;
      }
      const id = accepted.event.id;
      if (ids.has(id) || deps.recentIds.has(id)) continue;
      if (deps.tags?.lateDuplicate(accepted) === true) continue;
      ids.add(id);
      fresh.push(accepted);
    }
    const duplicates = events.length - fresh.length - ownReads;
    // Recorded before the hand-over so a concurrent re-send is caught, and forgotten again
    // if the hand-over fails: a refused request's events must stay re-sendable.
    for (const id of ids) deps.recentIds.add(id);
    try {
      await deps.broadcaster.write(fresh);
    } catch (err) {
      for (const id of ids) deps.recentIds.delete(id);
      return { ok: false, err, fresh: fresh.length };
    }
    deps.tags?.observe(fresh);
    if (ownReads > 0) deps.stats.ownReads(ownReads);
    deps.stats.accepted(fresh.length);
    if (duplicates > 0) deps.stats.duplicate(duplicates);
    return { ok: true, accepted: fresh.length, duplicates };
  };
}

/**
 * The one way a request's events enter the relay, for `/events` and every source: kept
 * (see keeper), then the answer: 202 once they are kept, 503 when storage cannot keep
 * them, 500 for a defect.
 */
export function acceptor(deps: IngestDeps): Accept {
  const keep = keeper(deps);
  return async (
    events: readonly Accepted[],
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ accepted: number; duplicates: number } | undefined> => {
    const span = deps.tracing === undefined ? undefined : traced(deps.tracing, events, req);
    const kept = await keep(events);
    if (!kept.ok) {
      const { err, fresh: count } = kept;
      span?.end({
        status: err instanceof StorageUnavailableError ? 503 : 500,
        error: err instanceof Error ? err.message : String(err),
      });
      if (err instanceof StorageUnavailableError) {
        const full = err.code === 'RELAY_STORAGE_FULL';
        deps.journalRejected(full ? 'full' : 'write', count);
        req.log.error(
          { reqId: req.id, code: err.code, events: count, err: full ? undefined : err },
          `events refused with 503: ${err.message}`,
        );
        void reply.header('retry-after', '10');
        void refuse(
          reply,
          503,
          `${deps.storageName}_${full ? 'full' : 'unavailable'}`,
          `${err.message}; the events were not accepted, retry later`,
        );
        return undefined;
      }
      // Not a condition of storage: a defect. Logged whole and answered as one, so the
      // registry retries and whoever reads the log sees a bug, not a shutdown.
      req.log.error({ reqId: req.id, err, events: count }, 'ingest failed unexpectedly');
      void reply.code(500).send(INTERNAL);
      return undefined;
    }
    const { accepted, duplicates } = kept;
    if (duplicates > 0) {
      req.log.info(
        { reqId: req.id, duplicates },
        'acknowledged events already accepted (registry re-send)',
      );
    }
    span?.end({ status: 202, accepted, duplicates });
    // Not awaited: awaiting a reply waits for the response to finish (listeners on the
    // socket's stream per request), and nothing here needs that.
    void reply.code(202).send({ accepted, duplicates });
    return { accepted, duplicates };
  };
}

/** Starts the request's ingest span; each of its events keeps the span's context. */
function traced(tracing: Tracing, events: readonly Accepted[], req: FastifyRequest): IngestSpan {
  const span = tracing.ingest({
    traceparent: header(req.headers['traceparent']),
    tracestate: header(req.headers['tracestate']),
    route: `POST ${req.routeOptions.url ?? req.url}`,
    source: events[0]?.facts.source ?? 'events',
    events: events.length,
  });
  for (const { event } of events) event.trace = span.context;
  return span;
}

const header = (v: string | string[] | undefined): string | undefined =>
  Array.isArray(v) ? v.join(',') : v;
