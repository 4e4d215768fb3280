import type { FastifyInstance } from 'fastify';
import type { AdminDeps } from './deps.ts';

const registrySchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    url: { type: 'string', description: 'The API base URL (credentials in it redacted).' },
    hosts: { type: 'array', items: { type: 'string' } },
    auth: {
      type: 'string',
      enum: ['anonymous', 'basic', 'bearer'],
      description: 'How the relay signs in; never the secret.',
    },
    state: {
      type: 'string',
      enum: ['unknown', 'ok', 'failing'],
      description:
        'unknown until the first answer; failing after a request that came to nothing (events go on without facts).',
    },
    lastSuccessAt: { type: 'string', format: 'date-time' },
    lastError: {
      type: 'object',
      properties: {
        reason: { type: 'string' },
        message: { type: 'string' },
        at: { type: 'string', format: 'date-time' },
      },
    },
    cachedDigests: { type: 'integer', description: 'Digests whose facts are kept in memory.' },
  },
} as const;

/** `/registries`: each configured registry, whether it answers, and why not. */
export function registryRoutes(api: FastifyInstance, deps: AdminDeps): void {
  api.get(
    '/registries',
    {
      schema: {
        summary: 'The configured registries the relay reads facts from: state, last error, cache',
        response: {
          200: {
            type: 'object',
            properties: { registries: { type: 'array', items: registrySchema } },
          },
        },
      },
    },
    () => ({ registries: deps.registries?.() ?? [] }),
  );
}
