import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseSince } from '../../config/units.ts';
import { SinceError, UnknownEndpointError } from '../../core/errors.ts';
import {
  shownDeadLetter,
  type DeadLetterFilter,
  type DeadLetters,
} from '../../storage/dead-letters.ts';
import { fail, type AdminDeps } from './deps.ts';
import { errorSchema, writeErrors } from './schemas.ts';

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

/**
 * `/dead-letters`: list, replay, purge, with the `dead-letters` command's filters and
 * checks (the same DeadLetters service): memory mode keeps none (409), a bad `since` is a
 * 400, an endpoint neither configured nor stored a 404.
 */
export function deadLetterRoutes(api: FastifyInstance, deps: AdminDeps): void {
  /** Runs `work` on the dead letters with the filter given, or answers why it cannot. */
  const withFilter = async <T>(
    given: FilterQuery | undefined,
    reply: FastifyReply,
    work: (deadLetters: DeadLetters, filter: DeadLetterFilter) => Promise<T>,
  ): Promise<T | FastifyReply> => {
    const deadLetters = deps.deadLetters;
    if (deadLetters === undefined) {
      return fail(
        reply,
        409,
        'not_durable',
        'storage is in memory and keeps no dead letters (they are logged): set storage.path or storage.nats',
      );
    }
    try {
      const since =
        given?.since === undefined ? undefined : parseSince(given.since, deps.clock.now());
      return await work(deadLetters, { endpoint: given?.endpoint, since });
    } catch (err) {
      if (err instanceof SinceError) return fail(reply, 400, 'bad_request', err.message);
      if (err instanceof UnknownEndpointError) {
        return fail(reply, 404, 'unknown_endpoint', err.message);
      }
      throw err;
    }
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
    (req, reply) =>
      withFilter(req.query, reply, async (deadLetters, filter) => {
        const rows = await deadLetters.list(filter);
        return {
          count: rows.length,
          deadLetters: rows.map((d) => shownDeadLetter(d, req.authorized)),
        };
      }),
  );

  for (const action of ['replay', 'purge'] as const) {
    api.post<{ Body: FilterQuery | undefined }>(
      `/dead-letters/${action}`,
      {
        config: { access: 'write' },
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
      (req, reply) =>
        withFilter(req.body ?? undefined, reply, async (deadLetters, filter) => {
          if (action === 'purge') return { purged: await deadLetters.purge(filter) };
          const replayed = await deadLetters.replay(filter);
          if (replayed === 0) return fail(reply, 409, 'nothing_to_replay', 'no dead letters match');
          req.log.info({ replayed, ...filter }, 'dead letters replayed');
          return { replayed };
        }),
    );
  }
}
