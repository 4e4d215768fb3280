import type { FastifyReply } from 'fastify';
import type { ReloadOutcome } from '../../config/reload-outcome.ts';
import type { Clock } from '../../core/clock.ts';
import { errorBody } from '../../core/errors.ts';
import type { BearerTokens } from '../../core/tokens.ts';
import type { AttemptLog } from '../../history/attempts.ts';
import type { EventTrail } from '../../history/events.ts';
import type { Endpoint } from '../../metrics/endpoint-view.ts';
import type { DeadLetters } from '../../storage/dead-letters.ts';
import type { InstanceReport } from '../../storage/storage.ts';
import type { RegistryState } from '../../registry/registries.ts';

/** What the admin API reads and changes. */
export interface AdminDeps {
  readonly clock: Clock;
  readonly endpoints: {
    readonly list: readonly Endpoint[];
    get(name: string): Endpoint | undefined;
    isPaused(name: string): boolean;
    /** Requests in flight, those of a pipeline a reload is replacing included. */
    inFlight(name: string): number;
    pause(name: string): Promise<boolean>;
    resume(name: string): Promise<boolean>;
  };
  /** This relay's name among several. */
  readonly instance: string;
  readonly startedAt: number;
  /** A shared backend (NATS): every relay that reported lately. */
  readonly instances?:
    (() => Promise<readonly (InstanceReport & { seenAt: number })[]>) | undefined;
  /** `http.debug.auth.tokens`: writes need one; without any, the API is read-only. */
  readonly tokens: BearerTokens;
  /** Reads the config file again and applies it, as SIGHUP does; undefined without a file. */
  readonly reload: (() => Promise<ReloadOutcome>) | undefined;
  /** The durable backend's dead letters; undefined in memory mode (none are kept). */
  readonly deadLetters: DeadLetters | undefined;
  /** The attempts log; undefined when `http.debug.attempts.keep` is 0. */
  readonly attempts?: AttemptLog | undefined;
  /** Recent events' whereabouts; undefined when `http.debug.events.keep` is 0. */
  readonly trail?: EventTrail | undefined;
  /** The configured registries' states; undefined without `registries`. */
  readonly registries?: (() => readonly (RegistryState & { reconcile?: unknown })[]) | undefined;
  /**
   * Starts a reconciliation walk of the registry now (or joins the one in progress);
   * undefined: the registry does not reconcile. Resolves undefined when another relay walks.
   */
  readonly reconcile?: ((name: string) => Promise<unknown> | undefined) | undefined;
  /** The endpoints that still owe an event, looked up in storage (the journal). */
  readonly pendingFor?: ((eventId: string) => readonly string[]) | undefined;
}

/** One JSON error shape for every refusal: a code to branch on and a sentence to read. */
export function fail(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send(errorBody(error, message));
}

export function unknownEndpoint(reply: FastifyReply, deps: AdminDeps, name: string) {
  return fail(
    reply,
    404,
    'unknown_endpoint',
    `no endpoint ${JSON.stringify(name)} (configured: ${deps.endpoints.list.map((e) => e.config.name).join(', ') || 'none'})`,
  );
}
