import type { FastifyInstance } from 'fastify';
import { errorBody } from '../../core/errors.ts';
import { fail, type AdminDeps } from './deps.ts';
import { writeErrors } from './schemas.ts';

/** `/reload`: read the config file again and apply it, as SIGHUP does. */
export function reloadRoutes(api: FastifyInstance, deps: AdminDeps): void {
  api.post(
    '/reload',
    {
      config: { access: 'write' },
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
        return reply.code(422).send(
          errorBody(
            'reload_failed',
            'the config was not applied; the relay keeps the one in force',
            {
              problems: outcome.problems,
            },
          ),
        );
      }
      return outcome;
    },
  );
}
