import type { FastifyInstance } from 'fastify';
import type { AdminDeps } from './deps.ts';
import { fail } from './deps.ts';

/**
 * Who may use a route, declared in its `config.access`:
 * - `read` (the default): anyone, as /debug/vars; what receivers answered only with a token;
 * - `log`: the attempts log, which quotes requests and answers: a token when tokens are set;
 * - `write`: a token, and without `http.debug.auth.tokens` no writes at all (403).
 */
export type Access = 'read' | 'log' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** The request carries one of `http.debug.auth.tokens`: bodies and reasons are shown. */
    authorized: boolean;
  }
}

/**
 * The admin API's one authorisation hook. It runs before a body is validated, so a write
 * without a token is refused as such, not for its body; an absent body is an empty one.
 */
export function authorize(api: FastifyInstance, deps: AdminDeps): void {
  api.decorateRequest('authorized', false);
  api.addHook('preValidation', async (req, reply) => {
    const access = req.routeOptions.config.access ?? 'read';
    const { tokens } = deps;
    req.authorized = tokens.required && tokens.allows(req.headers.authorization);
    if (access === 'read') return;
    if (access === 'write' && !tokens.required) {
      return fail(
        reply,
        403,
        'read_only',
        'the admin API is read-only: set http.debug.auth.tokens to allow changes',
      );
    }
    if (tokens.required && !req.authorized) {
      return fail(
        reply,
        401,
        'unauthorized',
        access === 'write'
          ? 'Authorization: Bearer <one of http.debug.auth.tokens> needed'
          : 'the attempts log needs Authorization: Bearer <one of http.debug.auth.tokens>',
      );
    }
    if (access === 'write') req.body ??= {};
    return undefined;
  });
}
