import type { FastifyInstance } from 'fastify';
import { fail, type AdminDeps } from './deps.ts';
import { writeErrors } from './schemas.ts';

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
    reconcile: {
      type: 'object',
      description: 'Reconciliation, when the registry has `reconcile`.',
      properties: {
        running: { type: 'boolean' },
        nextPassAt: { type: 'string', format: 'date-time' },
        lastPass: passSchema(),
      },
    },
  },
} as const;

function passSchema() {
  return {
    type: 'object',
    properties: {
      startedAt: { type: 'string', format: 'date-time' },
      finishedAt: { type: 'string', format: 'date-time' },
      seconds: { type: 'number' },
      result: { type: 'string', enum: ['complete', 'failed', 'lost-lease'] },
      first: { type: 'boolean', description: 'Nothing was known yet: by default only recorded.' },
      repositories: { type: 'integer' },
      tags: { type: 'integer' },
      pushes: { type: 'integer' },
      deletes: { type: 'integer' },
      requests: { type: 'integer' },
      error: { type: 'string' },
    },
  } as const;
}

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

  api.post<{ Params: { name: string } }>(
    '/registries/:name/reconcile',
    {
      config: { access: 'write' },
      schema: {
        summary: 'Walk the registry now (or wait for the walk in progress) and answer its report',
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        response: { 200: passSchema(), ...writeErrors },
      },
    },
    async (req, reply) => {
      const { name } = req.params;
      const known = (deps.registries?.() ?? []).map((r) => r.name);
      if (!known.includes(name)) {
        return fail(
          reply,
          404,
          'unknown_registry',
          `no registry ${JSON.stringify(name)} (configured: ${known.join(', ') || 'none'})`,
        );
      }
      const walking = deps.reconcile?.(name);
      if (walking === undefined) {
        return fail(
          reply,
          409,
          'not_reconciled',
          `registry ${name} has no reconcile block: nothing to walk`,
        );
      }
      const report = (await walking) as Record<string, unknown> | undefined;
      if (report === undefined) {
        return fail(
          reply,
          409,
          'walked_elsewhere',
          `another relay holds the walk lease of ${name}; its pass shows there`,
        );
      }
      const iso = (v: unknown) => (typeof v === 'number' ? new Date(v).toISOString() : undefined);
      return {
        ...report,
        startedAt: iso(report['startedAt']),
        finishedAt: iso(report['finishedAt']),
        seconds: ((report['finishedAt'] as number) - (report['startedAt'] as number)) / 1000,
      };
    },
  );
}
