// A running endpoint as the metrics, /debug/vars and the admin API read it. Declared here,
// below them, and built by the relay (relay/pipeline.ts), so the readers never import the
// layer that assembles endpoints.
import type { EndpointConfig } from '../config/endpoint.ts';
import type { RelayEvent } from '../core/event.ts';
import type { Breaker } from '../endpoint/breaker.ts';
import type { DeliveryLoop } from '../endpoint/delivery-loop.ts';
import type { Route } from '../endpoint/filter.ts';
import type { Backlog } from '../storage/storage.ts';
import type { EndpointStats } from './endpoint-stats.ts';

/** One configured destination: its config, its figures and, unless disabled, its pipeline. */
export interface Endpoint {
  readonly config: EndpointConfig;
  readonly stats: EndpointStats;
  /** Its filter stage, which the broadcaster runs; undefined for a disabled endpoint. */
  readonly route: Route | undefined;
  /** The delivery loop over the endpoint's backlog; undefined for a disabled endpoint. */
  readonly loop: DeliveryLoop | undefined;
  /** The endpoint's backlog in storage; undefined for a disabled endpoint. */
  readonly backlog: Backlog | undefined;
  /** Its retry policy and state (consecutive failures, next attempt); undefined if disabled. */
  readonly breaker: Breaker | undefined;
  /**
   * One attempt with `events` through the endpoint's real request path (format, headers,
   * signing, TLS, proxy), outside its backlog, counted in no metric; undefined if disabled.
   */
  readonly test: ((events: readonly RelayEvent[]) => Promise<TestOutcome>) | undefined;
}

/** What a test request came to. */
export interface TestOutcome {
  readonly ok: boolean;
  readonly deliveryId: string;
  readonly durationMs: number;
  readonly status?: number | undefined;
  /** No answer: TIMEOUT, ECONNREFUSED…; or FORMAT when the events cannot be rendered. */
  readonly code?: string | undefined;
  /** The failure as the log says it, with the start of the answer's body. */
  readonly message?: string | undefined;
}
