import { parseSince } from '../config/units.ts';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readEnvelope, type RelayEvent } from '../core/event.ts';
import type { Clock } from '../core/clock.ts';
import { redactUrl } from '../core/redact.ts';
import type { BearerTokens } from '../core/tokens.ts';
import type { LastOutcome } from '../metrics/endpoint-stats.ts';
import type { Endpoint } from '../metrics/endpoint-view.ts';
import type { ReloadOutcome } from '../config/reload-outcome.ts';
import type { InstanceReport } from '../storage/storage.ts';
import {
  parseStatusFilter,
  withoutBodies,
  type AttemptLog,
  type AttemptRecord,
} from '../history/attempts.ts';
import type { EventTrail, Mark } from '../history/events.ts';
import { type DeadLetterFilter, type DeadLetterStore } from '../storage/dead-letters.ts';
import { AttemptQueryError, EnvelopeError, errorBody, SinceError } from '../core/errors.ts';

/** What the admin API reads and changes. */
export interface AdminDeps {
  readonly clock: Clock;
  readonly endpoints: {
    readonly list: readonly Endpoint[];
    get(name: string): Endpoint | undefined;
    isPaused(name: string): boolean;
    /** Requests in flight, those of a pipeline a reload is replacing included. */
    inFlight(name: string): number;
    pause(name: string): Promise<boolean>;
    resume(name: string): Promise<boolean>;
  };
  /** This relay's name among several. */
  readonly instance: string;
  readonly startedAt: number;
  /** A shared backend (NATS): every relay that reported lately. */
  readonly instances?:
    (() => Promise<readonly (InstanceReport & { seenAt: number })[]>) | undefined;
  /** `http.debug.auth.tokens`: writes need one; without any, the API is read-only. */
  readonly tokens: BearerTokens;
  /** Reads the config file again and applies it, as SIGHUP does; undefined without a file. */
  readonly reload: (() => Promise<ReloadOutcome>) | undefined;
  /** The durable backend's dead letters; undefined in memory mode (none are kept). */
  readonly deadLetters: DeadLetterStore | undefined;
  /** The attempts log; undefined when `http.debug.attempts.keep` is 0. */
  readonly attempts?: AttemptLog | undefined;
  /** Recent events' whereabouts; undefined when `http.debug.events.keep` is 0. */
  readonly trail?: EventTrail | undefined;
  /** The endpoints that still owe an event, looked up in storage (the journal). */
  readonly pendingFor?: ((eventId: string) => readonly string[]) | undefined;
}

export type EndpointState = 'delivering' | 'retrying' | 'backing-off' | 'paused' | 'disabled';

/** A push event as the registry sends it, marked as the relay's test. */
export function sampleEvent(now: number): Record<string, unknown> {
  const digest = `sha256:${'0'.repeat(64)}`;
  return {
    id: `registry-relay-test-${randomUUID()}`,
    timestamp: new Date(now).toISOString(),
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 0,
      digest,
      length: 0,
      repository: 'registry-relay/test',
      tag: 'test',
    },
    request: {
      id: randomUUID(),
      host: 'registry-relay',
      method: 'PUT',
      useragent: 'registry-relay',
    },
    actor: { name: 'registry-relay' },
    source: { addr: 'registry-relay' },
  };
}

/** An attempt with its times as dates. */
function shownAttempt(r: AttemptRecord) {
  return { ...r, at: new Date(r.at).toISOString() };
}

/** One JSON error shape for every refusal: a code to branch on and a sentence to read. */
function fail(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send(errorBody(error, message));
}

const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** The refusals a write can meet: bad input, no or wrong token, read-only, unknown, conflict. */
const writeErrors = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
} as const;

const outcomeSchema = {
  type: ['object', 'null'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    status: { type: 'integer' },
    code: { type: 'string' },
    message: { type: 'string', description: 'Only to a request with a valid token.' },
  },
} as const;

const endpointSchema = {
  type: 'object',
  required: ['name', 'state', 'url', 'pending', 'inFlight', 'paused', 'disabled'],
  properties: {
    name: { type: 'string' },
    state: {
      type: 'string',
      enum: ['delivering', 'retrying', 'backing-off', 'paused', 'disabled'],
    },
    url: { type: 'string', description: 'Scheme, host and port; the rest as a fingerprint.' },
    pending: { type: 'integer' },
    oldestPendingAgeSeconds: { type: 'number' },
    inFlight: {
      type: 'integer',
      description: 'Requests in flight, those of a pipeline a reload is replacing included.',
    },
    paused: { type: 'boolean' },
    disabled: { type: 'boolean' },
    delivered: { type: 'integer', description: 'Events delivered since start.' },
    failed: { type: 'integer', description: 'Failed attempts since start.' },
    lastMinute: {
      type: 'object',
      properties: {
        delivered: { type: 'integer' },
        failed: { type: 'integer' },
        deliveredPerSecond: { type: 'array', items: { type: 'integer' } },
        failedPerSecond: { type: 'array', items: { type: 'integer' } },
      },
    },
    lastSuccess: outcomeSchema,
    lastFailure: outcomeSchema,
    breaker: {
      type: 'object',
      properties: {
        consecutiveFailures: { type: 'integer' },
        nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
      },
    },
  },
} as const;

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' } },
} as const;

interface NameParams {
  name: string;
}

const filterSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoint: { type: 'string', description: 'Only this endpoint’s dead letters.' },
    since: {
      type: 'string',
      description: 'Only those that died since: a duration back from now ("24h") or a date.',
    },
  },
} as const;

interface FilterQuery {
  endpoint?: string;
  since?: string;
}

const deadLetterSchema = {
  type: 'object',
  properties: {
    endpoint: { type: 'string' },
    eventId: { type: 'string' },
    action: { type: 'string' },
    attempts: { type: 'integer' },
    error: { type: 'string', description: 'Only to a request with a valid token.' },
    acceptedAt: { type: 'string', format: 'date-time' },
    deadAt: { type: 'string', format: 'date-time' },
  },
} as const;

const headersSchema = { type: 'object', additionalProperties: { type: 'string' } } as const;

const attemptSchema = {
  type: 'object',
  properties: {
    seq: {
      type: 'integer',
      description: 'Its place in the log; pass as `before` for the next page.',
    },
    endpoint: { type: 'string' },
    relay: { type: 'string', description: 'The relay instance that made it.' },
    at: { type: 'string', format: 'date-time' },
    durationMs: { type: 'number' },
    deliveryId: { type: 'string' },
    eventIds: { type: 'array', items: { type: 'string' } },
    result: { type: 'string', enum: ['success', 'failure', 'error'] },
    request: {
      type: 'object',
      properties: {
        method: { type: 'string' },
        url: { type: 'string', description: 'Scheme, host and port; the rest as a fingerprint.' },
        headers: {
          ...headersSchema,
          description: 'Values other than content and webhook ids are <redacted>.',
        },
        bodySize: { type: 'integer' },
        body: { type: 'string', description: 'The first 4 KiB; only to a request with a token.' },
      },
    },
    response: {
      type: 'object',
      properties: {
        status: { type: 'integer' },
        headers: headersSchema,
        bodySize: { type: 'integer' },
        body: { type: 'string', description: 'The first 4 KiB; only to a request with a token.' },
      },
    },
    code: { type: 'string', description: 'No answer: TIMEOUT, ECONNREFUSED…' },
    message: { type: 'string', description: 'Only to a request with a token.' },
  },
} as const;

interface AttemptsQuery {
  limit?: number;
  before?: number;
  status?: string;
}

const whereSchema = {
  type: 'object',
  properties: {
    endpoint: { type: 'string' },
    state: {
      type: 'string',
      enum: ['pending', 'delivered', 'dead-letter', 'dropped', 'filtered-out'],
    },
    at: { type: 'string', format: 'date-time' },
    reason: { type: 'string', description: 'Why it is a dead letter; only with a token.' },
    attempts: { type: 'integer', description: 'Attempts in the attempts log that carried it.' },
  },
} as const;

/** One endpoint as the API shows it; receivers' words only `withBodies`. */
export function endpointView(deps: AdminDeps, e: Endpoint, withBodies: boolean) {
  const now = deps.clock.now();
  const paused = deps.endpoints.isPaused(e.config.name);
  const delay = e.breaker?.delay(now) ?? 0;
  const failures = e.breaker?.consecutiveFailures ?? 0;
  const state: EndpointState = e.config.disabled
    ? 'disabled'
    : paused
      ? 'paused'
      : delay > 0
        ? 'backing-off'
        : failures > 0
          ? 'retrying'
          : 'delivering';
  const oldest = e.loop?.oldestAcceptedAt();
  const outcome = (o: LastOutcome | undefined) =>
    o === undefined
      ? null
      : {
          at: new Date(o.at).toISOString(),
          ...(o.status === undefined ? {} : { status: o.status }),
          ...(o.code === undefined ? {} : { code: o.code }),
          ...(withBodies && o.message !== undefined ? { message: o.message } : {}),
        };
  const s = e.stats;
  return {
    name: e.config.name,
    state,
    url: redactUrl(e.config.url),
    pending: s.pending,
    ...(oldest === undefined ? {} : { oldestPendingAgeSeconds: Math.max(0, now - oldest) / 1000 }),
    inFlight: deps.endpoints.inFlight(e.config.name),
    paused,
    disabled: e.config.disabled,
    delivered: s.latency.count,
    failed: s.failures + s.errors,
    lastMinute: {
      delivered: s.deliveredPerSecond.total(now),
      failed: s.failedPerSecond.total(now),
      deliveredPerSecond: s.deliveredPerSecond.series(now),
      failedPerSecond: s.failedPerSecond.series(now),
    },
    lastSuccess: outcome(s.lastSuccess),
    lastFailure: outcome(s.lastFailure),
    breaker: {
      consecutiveFailures: failures,
      nextAttemptAt: delay > 0 ? new Date(now + delay).toISOString() : null,
    },
  };
}

/**
 * The JSON API under /api/v1 on the ops listener. Reads are open, as /debug/vars is, but
 * show what a receiver answered only to a request with a token; writes need a token, and
 * without `http.debug.auth.tokens` there are no writes at all (403 naming the key).
 */
export function adminRoutes(api: FastifyInstance, deps: AdminDeps): void {
  const authorized = (req: FastifyRequest) =>
    deps.tokens.required && deps.tokens.allows(req.headers.authorization);

  /**
   * Before a write's body is validated: refused without a valid token (403 with no tokens
   * configured, else 401); an absent body is an empty filter.
   */
  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!deps.tokens.required) {
      await fail(
        reply,
        403,
        'read_only',
        'the admin API is read-only: set http.debug.auth.tokens to allow changes',
      );
      return;
    }
    if (!deps.tokens.allows(req.headers.authorization)) {
      await fail(
        reply,
        401,
        'unauthorized',
        'Authorization: Bearer <one of http.debug.auth.tokens> needed',
      );
      return;
    }
    req.body ??= {};
  };

  const show = (e: Endpoint, withBodies: boolean) => endpointView(deps, e, withBodies);

  const unknown = (reply: FastifyReply, name: string) =>
    fail(
      reply,
      404,
      'unknown_endpoint',
      `no endpoint ${JSON.stringify(name)} (configured: ${deps.endpoints.list.map((e) => e.config.name).join(', ') || 'none'})`,
    );

  api.get(
    '/endpoints',
    {
      schema: {
        summary: 'Every configured endpoint: state, backlog, recent outcomes, breaker',
        response: {
          200: {
            type: 'object',
            properties: { endpoints: { type: 'array', items: endpointSchema } },
          },
        },
      },
    },
    (req) => ({ endpoints: deps.endpoints.list.map((e) => show(e, authorized(req))) }),
  );

  api.get<{ Params: NameParams }>(
    '/endpoints/:name',
    {
      schema: {
        summary: 'One endpoint',
        params: nameParams,
        response: { 200: endpointSchema, 404: errorSchema },
      },
    },
    (req, reply) => {
      const e = deps.endpoints.get(req.params.name);
      if (e === undefined) return unknown(reply, req.params.name);
      return show(e, authorized(req));
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    api.post<{ Params: NameParams }>(
      `/endpoints/:name/${action}`,
      {
        preValidation: guard,
        schema: {
          summary:
            action === 'pause'
              ? 'Stop sending to the endpoint; its backlog keeps filling'
              : 'Send the endpoint its backlog again',
          params: nameParams,
          response: {
            200: endpointSchema,
            ...writeErrors,
          },
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        const e = deps.endpoints.get(name);
        if (e === undefined) return unknown(reply, name);
        if (e.config.disabled) {
          return fail(
            reply,
            409,
            'disabled',
            `${name} is disabled in the config: it sends nothing`,
          );
        }
        let changed: boolean;
        try {
          changed =
            action === 'pause'
              ? await deps.endpoints.pause(name)
              : await deps.endpoints.resume(name);
        } catch (err) {
          req.log.error({ err, endpoint: name }, `${action} not kept by storage`);
          return fail(
            reply,
            503,
            'storage_unavailable',
            `${action === 'pause' ? 'paused' : 'resumed'} on this relay only: storage did not keep it (${err instanceof Error ? err.message : String(err)}); try again`,
          );
        }
        if (!changed) {
          return action === 'pause'
            ? fail(reply, 409, 'already_paused', `${name} is paused already`)
            : fail(reply, 409, 'not_paused', `${name} is not paused`);
        }
        req.log.info(
          { endpoint: name },
          action === 'pause' ? 'endpoint paused' : 'endpoint resumed',
        );
        return show(e, true);
      },
    );
  }

  /** The store and the filter, or the reply is sent (memory mode, bad since, unknown endpoint). */
  const deadLetterFilter = async (
    given: FilterQuery | undefined,
    reply: FastifyReply,
  ): Promise<{ store: DeadLetterStore; filter: DeadLetterFilter } | undefined> => {
    const store = deps.deadLetters;
    if (store === undefined) {
      await fail(
        reply,
        409,
        'not_durable',
        'storage is in memory and keeps no dead letters (they are logged): set storage.path or storage.nats',
      );
      return undefined;
    }
    let since: number | undefined;
    try {
      since = given?.since === undefined ? undefined : parseSince(given.since, deps.clock.now());
    } catch (err) {
      if (!(err instanceof SinceError)) throw err;
      await fail(reply, 400, 'bad_request', err.message);
      return undefined;
    }
    const endpoint = given?.endpoint;
    if (endpoint !== undefined) {
      const known = new Set([
        ...deps.endpoints.list.map((e) => e.config.name),
        ...(await store.endpoints()),
      ]);
      if (!known.has(endpoint)) {
        await fail(
          reply,
          404,
          'unknown_endpoint',
          `no endpoint ${JSON.stringify(endpoint)} in the config or in storage (known: ${[...known].join(', ') || 'none'})`,
        );
        return undefined;
      }
    }
    return { store, filter: { endpoint, since } };
  };

  api.get<{ Querystring: FilterQuery }>(
    '/dead-letters',
    {
      schema: {
        summary: 'Events given up on (retry.maxAttempts, retry.maxAge), oldest first',
        querystring: filterSchema,
        response: {
          200: {
            type: 'object',
            properties: {
              count: { type: 'integer' },
              deadLetters: { type: 'array', items: deadLetterSchema },
            },
          },
          400: errorSchema,
          404: errorSchema,
          409: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const found = await deadLetterFilter(req.query, reply);
      if (found === undefined) return reply;
      const withBodies = authorized(req);
      const rows = await found.store.list(found.filter);
      return {
        count: rows.length,
        deadLetters: rows.map((d) => ({
          endpoint: d.endpoint,
          eventId: d.eventId,
          action: d.action,
          attempts: d.attempts,
          ...(withBodies ? { error: d.error } : {}),
          acceptedAt: new Date(d.acceptedAt).toISOString(),
          deadAt: new Date(d.deadAt).toISOString(),
        })),
      };
    },
  );

  for (const action of ['replay', 'purge'] as const) {
    api.post<{ Body: FilterQuery | undefined }>(
      `/dead-letters/${action}`,
      {
        preValidation: guard,
        schema: {
          summary:
            action === 'replay'
              ? 'Put dead letters back at the end of their endpoint’s backlog'
              : 'Delete dead letters for good',
          body: filterSchema,
          response: {
            200: {
              type: 'object',
              properties: { [action === 'replay' ? 'replayed' : 'purged']: { type: 'integer' } },
            },
            ...writeErrors,
          },
        },
      },
      async (req, reply) => {
        const found = await deadLetterFilter(req.body ?? undefined, reply);
        if (found === undefined) return reply;
        if (action === 'purge') return { purged: await found.store.purge(found.filter) };
        const replayed = await found.store.replay(found.filter);
        if (replayed === 0) {
          return fail(reply, 409, 'nothing_to_replay', 'no dead letters match');
        }
        req.log.info({ replayed, ...found.filter }, 'dead letters replayed');
        return { replayed };
      },
    );
  }

  api.post<{ Params: NameParams; Body: { events?: unknown } | undefined }>(
    '/endpoints/:name/test',
    {
      preValidation: guard,
      schema: {
        summary:
          'Send a sample event (or the envelope given) through the endpoint’s real request path, outside its backlog',
        params: nameParams,
        body: {
          type: 'object',
          description: 'Optional: an envelope {"events": [...]} as the registry posts it.',
          properties: { events: { type: 'array' } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              deliveryId: { type: 'string' },
              durationMs: { type: 'number' },
              status: { type: 'integer' },
              code: { type: 'string' },
              message: { type: 'string' },
            },
          },
          ...writeErrors,
        },
      },
    },
    async (req, reply) => {
      const { name } = req.params;
      const e = deps.endpoints.get(name);
      if (e === undefined) return unknown(reply, name);
      if (e.test === undefined) {
        return fail(reply, 409, 'disabled', `${name} is disabled in the config: it sends nothing`);
      }
      const now = deps.clock.now();
      let events: RelayEvent[];
      try {
        events =
          req.body?.events === undefined
            ? readEnvelope({ events: [sampleEvent(now)] }, now).map((a) => a.event)
            : readEnvelope(req.body, now).map((a) => a.event);
      } catch (err) {
        if (!(err instanceof EnvelopeError)) throw err;
        return fail(reply, 400, 'bad_envelope', err.message);
      }
      if (events.length === 0 || events.length > e.config.batch.maxEvents) {
        return fail(
          reply,
          400,
          'bad_envelope',
          `events: send 1${e.config.batch.maxEvents > 1 ? ` to ${String(e.config.batch.maxEvents)}` : ''} (batch.maxEvents is ${String(e.config.batch.maxEvents)}), got ${String(events.length)}`,
        );
      }
      const outcome = await e.test(events);
      req.log.info({ endpoint: name, ...outcome }, 'test request sent');
      return outcome;
    },
  );

  api.get(
    '/session',
    {
      schema: {
        summary: 'What this request may do: read-only relay, and whether its token is accepted',
        response: {
          200: {
            type: 'object',
            properties: {
              readOnly: {
                type: 'boolean',
                description: 'No http.debug.auth.tokens: no writes, no bodies, for anyone.',
              },
              authorized: { type: 'boolean', description: 'The request carries a valid token.' },
            },
          },
        },
      },
    },
    (req) => ({ readOnly: !deps.tokens.required, authorized: authorized(req) }),
  );

  api.get(
    '/instances',
    {
      schema: {
        summary: 'The relays sharing this storage (NATS), each with its endpoints; else this one',
        response: {
          200: {
            type: 'object',
            properties: {
              instances: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    self: { type: 'boolean' },
                    startedAt: { type: 'string', format: 'date-time' },
                    seenAt: { type: 'string', format: 'date-time' },
                    endpoints: { type: 'array', items: endpointSchema },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const now = deps.clock.now();
      const self = {
        id: deps.instance,
        self: true,
        startedAt: new Date(deps.startedAt).toISOString(),
        seenAt: new Date(now).toISOString(),
        endpoints: deps.endpoints.list.map((e) => show(e, authorized(req))),
      };
      const others = ((await deps.instances?.().catch(() => [])) ?? [])
        .filter((i) => i.id !== deps.instance)
        .map((i) => ({
          id: i.id,
          self: false,
          startedAt: new Date(i.startedAt).toISOString(),
          seenAt: new Date(i.seenAt).toISOString(),
          endpoints: i.endpoints,
        }));
      return { instances: [self, ...others] };
    },
  );

  api.get<{ Params: NameParams; Querystring: AttemptsQuery }>(
    '/endpoints/:name/attempts',
    {
      schema: {
        summary: 'The endpoint’s delivery log, newest first: request and answer of every attempt',
        description:
          'With http.debug.auth.tokens set, it needs a token; without, it answers without bodies.',
        params: nameParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            before: {
              type: 'integer',
              minimum: 1,
              description: 'Only attempts older than this seq.',
            },
            status: {
              type: 'string',
              description: 'success, failure, error, failed (failure or error), or a status: 500.',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              attempts: { type: 'array', items: attemptSchema },
              bodies: { type: 'boolean', description: 'False when bodies were left out.' },
              next: { type: ['integer', 'null'], description: '`before` for the next page.' },
            },
          },
          ...writeErrors,
        },
      },
    },
    async (req, reply) => {
      if (deps.tokens.required && !deps.tokens.allows(req.headers.authorization)) {
        return fail(
          reply,
          401,
          'unauthorized',
          'the attempts log needs Authorization: Bearer <one of http.debug.auth.tokens>',
        );
      }
      const { name } = req.params;
      if (deps.endpoints.get(name) === undefined) return unknown(reply, name);
      if (deps.attempts === undefined) {
        return fail(
          reply,
          409,
          'attempts_off',
          'the attempts log is off: http.debug.attempts.keep is 0',
        );
      }
      let status;
      try {
        status = parseStatusFilter(req.query.status);
      } catch (err) {
        if (!(err instanceof AttemptQueryError)) throw err;
        return fail(reply, 400, 'bad_request', err.message);
      }
      const limit = req.query.limit ?? 50;
      const rows = await deps.attempts.list(name, { limit, before: req.query.before, status });
      const bodies = authorized(req);
      return {
        attempts: rows.map((r) => shownAttempt(bodies ? r : withoutBodies(r))),
        bodies,
        next: rows.length === limit ? (rows[rows.length - 1]?.seq ?? null) : null,
      };
    },
  );

  api.get<{ Params: { id: string } }>(
    '/events/:id',
    {
      schema: {
        summary:
          'Where one event is, per endpoint: pending, delivered when, dead letter, filtered out',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              acceptedAt: { type: 'string', format: 'date-time' },
              endpoints: { type: 'array', items: whereSchema },
              sources: {
                type: 'array',
                items: { type: 'string' },
                description: 'Where the answer was found: trail, attempts, dead-letters, storage.',
              },
            },
          },
          404: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const withReasons = authorized(req);
      const where = new Map<string, Mark & { attempts?: number }>();
      const sources: string[] = [];
      const trail = deps.trail?.get(id);
      if (trail !== undefined) {
        sources.push('trail');
        for (const [name, mark] of Object.entries(trail.endpoints)) where.set(name, mark);
      }
      const pending = deps.pendingFor?.(id) ?? [];
      if (pending.length > 0) {
        sources.push('storage');
        for (const name of pending) {
          if (where.get(name)?.state !== 'delivered') where.set(name, { state: 'pending' });
        }
      }
      const attempts = (await deps.attempts?.forEvent(id)) ?? [];
      if (attempts.length > 0) sources.push('attempts');
      const counts = new Map<string, number>();
      // Oldest first, so the newest outcome is the one that stays.
      for (const a of [...attempts].reverse()) {
        counts.set(a.endpoint, (counts.get(a.endpoint) ?? 0) + 1);
        const known = where.get(a.endpoint);
        if (a.result === 'success') {
          where.set(a.endpoint, { state: 'delivered', at: a.at + a.durationMs });
        } else if (known === undefined) {
          where.set(a.endpoint, { state: 'pending' });
        }
      }
      const dead = deps.deadLetters === undefined ? [] : await deps.deadLetters.list({});
      for (const d of dead) {
        if (d.eventId !== id) continue;
        if (!sources.includes('dead-letters')) sources.push('dead-letters');
        where.set(d.endpoint, { state: 'dead-letter', at: d.deadAt, reason: d.error });
      }
      if (where.size === 0) {
        return fail(
          reply,
          404,
          'unknown_event',
          `no event ${JSON.stringify(id)} ${deps.trail === undefined ? '(recent events are not kept: http.debug.events.keep is 0)' : 'among the recent events this relay accepted (http.debug.events.keep)'}, in storage, in the attempts log or among the dead letters`,
        );
      }
      const acceptedAt = trail?.acceptedAt ?? dead.find((d) => d.eventId === id)?.acceptedAt;
      return {
        id,
        ...(acceptedAt === undefined ? {} : { acceptedAt: new Date(acceptedAt).toISOString() }),
        endpoints: [...where].map(([endpoint, m]) => ({
          endpoint,
          state: m.state,
          ...(m.at === undefined ? {} : { at: new Date(m.at).toISOString() }),
          ...(withReasons && m.reason !== undefined ? { reason: m.reason } : {}),
          attempts: counts.get(endpoint) ?? 0,
        })),
        sources,
      };
    },
  );

  api.post(
    '/reload',
    {
      preValidation: guard,
      schema: {
        summary: 'Read the config file again and apply it, as SIGHUP does',
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              hash: { type: 'string' },
              added: { type: 'array', items: { type: 'string' } },
              changed: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    keys: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
              removed: { type: 'array', items: { type: 'string' } },
            },
          },
          ...writeErrors,
          422: {
            type: 'object',
            properties: {
              error: { type: 'string' },
              message: { type: 'string' },
              problems: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async (_req, reply) => {
      if (deps.reload === undefined) {
        return fail(reply, 409, 'no_config_file', 'this relay was not started from a config file');
      }
      const outcome = await deps.reload();
      if (!outcome.ok) {
        return reply
          .code(422)
          .send(
            errorBody(
              'reload_failed',
              'the config was not applied; the relay keeps the one in force',
              { problems: outcome.problems },
            ),
          );
      }
      return outcome;
    },
  );
}
