import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { EndpointConfig } from '../config/schema.ts';
import type { Journal } from '../journal/journal.ts';
import { JournalQueue } from '../journal/queue.ts';
import type { RelayMetrics } from '../metrics/registry.ts';
import { EndpointStats } from '../metrics/endpoint-stats.ts';
import { Breaker } from './breaker.ts';
import { Filter } from './filter.ts';
import { HttpSink } from './http.ts';
import { QueueSink } from './queue.ts';
import { RetryingSink } from './retry.ts';

/** One configured destination: its config, its figures and, unless disabled, its pipeline. */
export interface Endpoint {
  readonly config: EndpointConfig;
  readonly stats: EndpointStats;
  readonly filter: Filter;
  /** The head of the pipeline: events enter here; undefined for a disabled endpoint. */
  readonly queue: QueueSink | JournalQueue | undefined;
}

export interface PipelineDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: RelayMetrics;
  /** With a journal: the journal, the memory window, and what it holds for this endpoint. */
  readonly journal?: { journal: Journal; window: number; restored: number } | undefined;
}

/**
 * Builds an endpoint's pipeline, read from the inside out: HTTP (one attempt) ← retrying
 * (the registry's breaker, optional retry limits) ← queue (isolation: ingest never waits
 * on delivery; bounded in memory, or a window over the journal). The broadcaster applies
 * the filter (the registry's ignore rules) before an event enters the queue.
 */
export function buildEndpoint(config: EndpointConfig, deps: PipelineDeps): Endpoint {
  const stats = new EndpointStats(config.name, deps.metrics, deps.clock);
  const filter = new Filter({
    mediaTypes: [...config.ignoredMediaTypes, ...config.ignore.mediaTypes],
    actions: config.ignore.actions,
  });
  if (config.disabled) return { config, stats, filter, queue: undefined };

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
    limits: {
      maxAttempts: config.retry.maxAttempts,
      maxAgeMs: config.retry.maxAgeNs === undefined ? undefined : config.retry.maxAgeNs / 1e6,
    },
  });
  const queue =
    deps.journal === undefined
      ? new QueueSink({
          endpoint: config.name,
          next: retrying,
          maxPending: config.maxPending,
          listener: stats,
          log,
        })
      : new JournalQueue({
          endpoint: config.name,
          journal: deps.journal.journal,
          next: retrying,
          window: deps.journal.window,
          listener: stats,
          log,
          restored: deps.journal.restored,
        });
  return { config, stats, filter, queue };
}
