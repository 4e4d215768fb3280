import { Counter, Gauge, Histogram, collectDefaultMetrics, Registry } from 'prom-client';
import { CellCounter, CellGauge, CellHistogram } from './cells.ts';

const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/**
 * Every Prometheus metric of one relay, on a Registry of its own: two relays in one process
 * (as in tests) never share metric state. Names of the registry's own metrics are kept
 * exactly (distribution/notifications/metrics.go), so existing dashboards keep working.
 */
export function createMetrics() {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const registers = [register];
  return {
    register,
    events: new CellCounter({
      name: 'registry_notifications_events_total',
      help: 'Events per endpoint by type: Events (queued after filtering), Successes, Failures and Errors (attempts).',
      labelNames: ['type', 'endpoint'] as const,
      registers,
    }),
    // A gauge despite the suffix: the registry named it so, and dashboards use the name.
    pending: new CellGauge({
      name: 'registry_notifications_pending_total',
      help: 'Events accepted for the endpoint and not yet delivered or dropped.',
      labelNames: ['endpoint'] as const,
      registers,
    }),
    statuses: new CellCounter({
      name: 'registry_notifications_status_total',
      help: 'HTTP answers per endpoint, by status line such as "202 Accepted".',
      labelNames: ['code', 'endpoint'] as const,
      registers,
    }),
    deliveryLatency: new CellHistogram({
      name: 'relay_delivery_latency_seconds',
      help: 'Time from ingest accepting an event to the endpoint answering 2xx for it, retries included.',
      labelNames: ['endpoint'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    attemptDuration: new CellHistogram({
      name: 'relay_attempt_duration_seconds',
      help: 'Duration of single HTTP delivery attempts, by outcome (success, failure, error).',
      labelNames: ['endpoint', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    traceSpans: new Counter({
      name: 'relay_trace_spans_exported_total',
      help: 'Spans sent to the OTLP receiver (tracing on), by result: ok, or failed (the spans are lost).',
      labelNames: ['result'] as const,
      registers,
    }),
    filtered: new Counter({
      name: 'relay_filtered_events_total',
      help: 'Events not sent to the endpoint because its ignore rules or filter refused them.',
      labelNames: ['endpoint'] as const,
      registers,
    }),
    resolvedDuplicates: new Counter({
      name: 'relay_resolved_duplicates_total',
      help: 'Events acknowledged without sending: re-sends found once their tag was resolved to a digest.',
      labelNames: ['endpoint'] as const,
      registers,
    }),
    registryRequests: new Counter({
      name: 'relay_registry_requests_total',
      help: 'Requests to configured registries by kind (resolve, manifest, blob, referrers, token) and status, or the failure (timeout, unreachable, too_large).',
      labelNames: ['registry', 'kind', 'status'] as const,
      registers,
    }),
    registryCache: new Counter({
      name: 'relay_registry_cache_total',
      help: 'Facts asked of the per-digest cache, by result (hit, miss).',
      labelNames: ['registry', 'result'] as const,
      registers,
    }),
    registryFacts: new Histogram({
      name: 'relay_registry_facts_seconds',
      help: 'Time from an endpoint asking for an event to its facts (or resolved digest) being ready, by outcome: facts, or why not (wait, timeout, unreachable, unauthorized, ...).',
      labelNames: ['registry', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    reconcilePasses: new Counter({
      name: 'relay_reconcile_passes_total',
      help: 'Reconciliation walks by result: complete, failed (the registry refused or failed; nothing reported deleted from what was not listed), lost-lease.',
      labelNames: ['registry', 'result'] as const,
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: 'relay_reconcile_pass_seconds',
      help: 'Duration of reconciliation walks.',
      labelNames: ['registry'] as const,
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    reconcileRepositories: new Counter({
      name: 'relay_reconcile_repositories_total',
      help: 'Repositories whose tags a walk listed.',
      labelNames: ['registry'] as const,
      registers,
    }),
    reconcileTags: new Counter({
      name: 'relay_reconcile_tags_total',
      help: 'Tags a walk asked the digest of.',
      labelNames: ['registry'] as const,
      registers,
    }),
    reconcileDifferences: new Counter({
      name: 'relay_reconcile_differences_total',
      help: 'Differences a walk reported as events: push (a tag unknown or moved), delete (a tag gone).',
      labelNames: ['registry', 'kind'] as const,
      registers,
    }),
    reconcileRequests: new Counter({
      name: 'relay_reconcile_requests_total',
      help: 'Registry requests made by walks (catalog, tag lists, manifest HEADs).',
      labelNames: ['registry'] as const,
      registers,
    }),
    requestEvents: new Histogram({
      name: 'relay_request_events',
      help: 'Events per delivery request of endpoints with batch.maxEvents > 1, counted once per delivery (not per retry).',
      labelNames: ['endpoint'] as const,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
    rateLimitWait: new Counter({
      name: 'relay_rate_limit_wait_seconds_total',
      help: "Time requests spent waiting for the endpoint's rateLimit before they were sent.",
      labelNames: ['endpoint'] as const,
      registers,
    }),
    rateLimited: new Gauge({
      name: 'relay_rate_limited_requests',
      help: "Requests waiting now for the endpoint's rateLimit.",
      labelNames: ['endpoint'] as const,
      registers,
    }),
    dropped: new Counter({
      name: 'relay_events_dropped_total',
      help: "Events dropped because the endpoint's queue was full (queue.maxPending).",
      labelNames: ['endpoint'] as const,
      registers,
    }),
    deadLettered: new Counter({
      name: 'relay_dead_lettered_events_total',
      help: 'Events given up on (retry.maxAttempts or retry.maxAge) and moved to the dead letters.',
      labelNames: ['endpoint'] as const,
      registers,
    }),
    journalCommit: new Histogram({
      name: 'relay_journal_commit_seconds',
      help: 'Duration of journal commits (one per event-loop turn with writes; fsync included with sync: full).',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    sourceEvents: new Counter({
      name: 'relay_source_events_total',
      help: 'Webhooks of configured sources: events accepted or duplicate; requests ignored (a type not mapped), rejected (400) or unauthorized (401).',
      labelNames: ['source', 'type', 'result'] as const,
      registers,
    }),
    journalRejected: new Counter({
      name: 'relay_journal_rejected_events_total',
      help: 'Events refused with 503 because the journal was at storage.maxSize or could not write.',
      labelNames: ['reason'] as const,
      registers,
    }),
    duplicates: new Counter({
      name: 'relay_duplicate_events_total',
      help: 'Events acknowledged but not delivered again because their id was accepted recently.',
      registers,
    }),
    ownReads: new Counter({
      name: 'relay_ingest_own_reads_total',
      help: "Pull events the registry notified for the relay's own manifest reads (enrichment): acknowledged, not relayed.",
      registers,
    }),
    ingestEvents: new Counter({
      name: 'relay_ingest_events_total',
      help: 'Events accepted by ingest (duplicates excluded), before per-endpoint filtering.',
      registers,
    }),
    ingestRequests: new Counter({
      name: 'relay_ingest_requests_total',
      help: 'Requests to the ingest listener, by HTTP status answered.',
      labelNames: ['code'] as const,
      registers,
    }),
  };
}

export type RelayMetrics = ReturnType<typeof createMetrics>;
