import type { FastifyInstance } from 'fastify';
import { AttemptQueryError } from '../../core/errors.ts';
import { parseStatusFilter, withoutBodies, type AttemptRecord } from '../../history/attempts.ts';
import { fail, unknownEndpoint, type AdminDeps } from './deps.ts';
import { nameParams, writeErrors, type NameParams } from './schemas.ts';

const headersSchema = { type: 'object', additionalProperties: { type: 'string' } } as const;

export const attemptSchema = {
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

/** An attempt with its times as dates. */
function shownAttempt(r: AttemptRecord) {
  return { ...r, at: new Date(r.at).toISOString() };
}

/** `/endpoints/{name}/attempts`: the delivery log, newest first. */
export function attemptRoutes(api: FastifyInstance, deps: AdminDeps): void {
  api.get<{ Params: NameParams; Querystring: AttemptsQuery }>(
    '/endpoints/:name/attempts',
    {
      config: { access: 'log' },
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
      const { name } = req.params;
      if (deps.endpoints.get(name) === undefined) return unknownEndpoint(reply, deps, name);
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
      const bodies = req.authorized;
      return {
        attempts: rows.map((r) => shownAttempt(bodies ? r : withoutBodies(r))),
        bodies,
        next: rows.length === limit ? (rows[rows.length - 1]?.seq ?? null) : null,
      };
    },
  );
}
