import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { EndpointConfig } from '../config/schema.ts';
import type { RelayMetrics } from '../metrics/registry.ts';
import { EndpointStats } from '../metrics/endpoint-stats.ts';
import type { Sink } from '../sink.ts';
import { Breaker } from './breaker.ts';
import { FilterSink } from './filter.ts';
import { HttpSink } from './http.ts';
import { QueueSink } from './queue.ts';
import { RetryingSink } from './retry.ts';

/** One configured destination: its config, its figures and, unless disabled, its pipeline. */
export interface Endpoint {
  readonly config: EndpointConfig;
  readonly stats: EndpointStats;
  /** The head of the pipeline (the filter); undefined for a disabled endpoint. */
  readonly sink: Sink | undefined;
  readonly queue: QueueSink | undefined;
}

export interface PipelineDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: RelayMetrics;
}

/**
 * Builds an endpoint's pipeline, read from the inside out: HTTP (one attempt) ← retrying
 * (the registry's breaker) ← bounded queue (isolation: ingest never waits on delivery) ←
 * filter (the registry's ignore rules). Events enter at the filter.
 */
export function buildEndpoint(config: EndpointConfig, deps: PipelineDeps): Endpoint {
  const stats = new EndpointStats(config.name, deps.metrics, deps.clock);
  if (config.disabled) return { config, stats, sink: undefined, queue: undefined };

  const log = deps.log.child({ endpoint: config.name });
  const http = new HttpSink({
    endpoint: config.name,
    url: config.url,
    headers: config.headers,
    timeoutMs: config.timeoutNs / 1e6,
    listener: stats,
  });
  const retrying = new RetryingSink({
    endpoint: config.name,
    next: http,
    breaker: new Breaker(config.threshold, config.backoffNs / 1e6),
    clock: deps.clock,
    log,
  });
  const queue = new QueueSink({
    endpoint: config.name,
    next: retrying,
    maxPending: config.maxPending,
    listener: stats,
    log,
  });
  const filter = new FilterSink(
    {
      mediaTypes: [...config.ignoredMediaTypes, ...config.ignore.mediaTypes],
      actions: config.ignore.actions,
    },
    queue,
  );
  return { config, stats, sink: filter, queue };
}
