import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { EnvelopeError } from '../../core/errors.ts';
import { readEnvelope, type RelayEvent } from '../../core/event.ts';
import { redactUrl } from '../../core/redact.ts';
import type { LastOutcome } from '../../metrics/endpoint-stats.ts';
import type { Endpoint } from '../../metrics/endpoint-view.ts';
import { fail, unknownEndpoint, type AdminDeps } from './deps.ts';
import {
  endpointSchema,
  errorSchema,
  nameParams,
  writeErrors,
  type NameParams,
} from './schemas.ts';

export type EndpointState =
  'delivering' | 'rate-limited' | 'retrying' | 'backing-off' | 'paused' | 'disabled';

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
          : e.stats.rateLimited > 0
            ? 'rate-limited'
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
    ...(e.config.rateLimit === undefined
      ? {}
      : {
          rateLimit: {
            requests: e.config.rateLimit.requests,
            perSeconds: e.config.rateLimit.perMs / 1000,
            burst: e.config.rateLimit.burst,
            waiting: s.rateLimited,
            waitedSeconds: s.rateWaitMs / 1000,
          },
        }),
  };
}

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

/** `/endpoints`: states, one endpoint, pause and resume, and a test request. */
export function endpointRoutes(api: FastifyInstance, deps: AdminDeps): void {
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
    (req) => ({ endpoints: deps.endpoints.list.map((e) => endpointView(deps, e, req.authorized)) }),
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
      if (e === undefined) return unknownEndpoint(reply, deps, req.params.name);
      return endpointView(deps, e, req.authorized);
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    api.post<{ Params: NameParams }>(
      `/endpoints/:name/${action}`,
      {
        config: { access: 'write' },
        schema: {
          summary:
            action === 'pause'
              ? 'Stop sending to the endpoint; its backlog keeps filling'
              : 'Send the endpoint its backlog again',
          params: nameParams,
          response: { 200: endpointSchema, ...writeErrors },
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        const e = deps.endpoints.get(name);
        if (e === undefined) return unknownEndpoint(reply, deps, name);
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
        return endpointView(deps, e, true);
      },
    );
  }

  api.post<{ Params: NameParams; Body: { events?: unknown } | undefined }>(
    '/endpoints/:name/test',
    {
      config: { access: 'write' },
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
      if (e === undefined) return unknownEndpoint(reply, deps, name);
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
      const max = e.config.batch.maxEvents;
      if (events.length === 0 || events.length > max) {
        return fail(
          reply,
          400,
          'bad_envelope',
          `events: send 1${max > 1 ? ` to ${String(max)}` : ''} (batch.maxEvents is ${String(max)}), got ${String(events.length)}`,
        );
      }
      const outcome = await e.test(events);
      req.log.info({ endpoint: name, ...outcome }, 'test request sent');
      return outcome;
    },
  );
}
