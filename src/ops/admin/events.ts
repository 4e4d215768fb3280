import type { FastifyInstance } from 'fastify';
import type { Mark } from '../../history/events.ts';
import { fail, type AdminDeps } from './deps.ts';
import { errorSchema } from './schemas.ts';

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

/**
 * `/events/{id}`: where one event is, per endpoint. Each place that knows is asked for that
 * one id: the trail of recent events, storage's pending rows, the attempts log, the dead
 * letters; a later source's word wins where it knows more (a dead letter over pending).
 */
export function eventRoutes(api: FastifyInstance, deps: AdminDeps): void {
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
      const where = new Map<string, Mark>();
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
        if (a.result === 'success') {
          where.set(a.endpoint, { state: 'delivered', at: a.at + a.durationMs });
        } else if (!where.has(a.endpoint)) {
          where.set(a.endpoint, { state: 'pending' });
        }
      }
      const dead = (await deps.deadLetters?.store.forEvent(id)) ?? [];
      if (dead.length > 0) sources.push('dead-letters');
      for (const d of dead) {
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
      const acceptedAt = trail?.acceptedAt ?? dead[0]?.acceptedAt;
      return {
        id,
        ...(acceptedAt === undefined ? {} : { acceptedAt: new Date(acceptedAt).toISOString() }),
        endpoints: [...where].map(([endpoint, m]) => ({
          endpoint,
          state: m.state,
          ...(m.at === undefined ? {} : { at: new Date(m.at).toISOString() }),
          ...(req.authorized && m.reason !== undefined ? { reason: m.reason } : {}),
          attempts: counts.get(endpoint) ?? 0,
        })),
        sources,
      };
    },
  );
}
