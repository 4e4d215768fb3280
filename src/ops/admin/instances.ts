import type { FastifyInstance } from 'fastify';
import type { AdminDeps } from './deps.ts';
import { endpointView } from './endpoints.ts';
import { endpointSchema } from './schemas.ts';

/** `/instances` (the relays sharing this storage) and `/session` (what this request may do). */
export function instanceRoutes(api: FastifyInstance, deps: AdminDeps): void {
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
    (req) => ({ readOnly: !deps.tokens.required, authorized: req.authorized }),
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
        endpoints: deps.endpoints.list.map((e) => endpointView(deps, e, req.authorized)),
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
}
