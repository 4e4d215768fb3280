// The JSON API under /api/v1 on the ops listener, one Fastify plugin per resource, each
// with its schemas beside its handlers, behind one authorisation hook (access.ts). Reads
// are open, as /debug/vars is, but show what a receiver answered only to a request with a
// token; writes need a token, and without `http.debug.auth.tokens` there are none (403).
import type { FastifyInstance } from 'fastify';
import { authorize } from './access.ts';
import { attemptRoutes } from './attempts.ts';
import { deadLetterRoutes } from './dead-letters.ts';
import type { AdminDeps } from './deps.ts';
import { endpointRoutes } from './endpoints.ts';
import { eventRoutes } from './events.ts';
import { instanceRoutes } from './instances.ts';
import { registryRoutes } from './registries.ts';
import { reloadRoutes } from './reload.ts';

export type { AdminDeps } from './deps.ts';
export { endpointView } from './endpoints.ts';

/** Registers every resource of the admin API on `api` (a scope, prefixed /api/v1). */
export function adminApi(api: FastifyInstance, deps: AdminDeps): void {
  authorize(api, deps);
  for (const resource of [
    endpointRoutes,
    attemptRoutes,
    eventRoutes,
    deadLetterRoutes,
    reloadRoutes,
    instanceRoutes,
    registryRoutes,
  ]) {
    resource(api, deps);
  }
}
