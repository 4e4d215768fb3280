import type { Endpoint } from './endpoint-view.ts';
import { redactUrl } from '../core/redact.ts';
import type { JournalView } from './backlog.ts';
import type { IngestStats } from './ingest-stats.ts';

const REDACTED = '<redacted>';

// Go marshals an empty (nil) slice as null; scrapers written against the registry expect it.
const goSlice = (list: readonly string[]): readonly string[] | null =>
  list.length === 0 ? null : list;

/**
 * `/debug/vars` in the shape registry 2.8.2 serves, so existing scrapers keep working, with
 * every header value redacted. Relay-only figures sit beside it under `relay`.
 */
export function expvar(
  endpoints: readonly Endpoint[],
  ingest: IngestStats,
  startedAt: number,
  now: number,
  journal?: JournalView,
  config?: unknown,
) {
  const mem = process.memoryUsage();
  const dead = journal?.journal.deadLetterCounts();
  return {
    registry: {
      notifications: {
        endpoints: endpoints.map(({ config, stats }) => ({
          name: config.name,
          url: redactUrl(config.url),
          Headers: Object.fromEntries(
            Object.entries(config.headers).map(([k, v]) => [k, v.map(() => REDACTED)]),
          ),
          Timeout: config.timeoutNs,
          Threshold: config.threshold,
          // The registry's field: the fixed backoff, or the first delay of an exponential one.
          Backoff:
            (config.backoff.strategy === 'fixed'
              ? config.backoff.delayMs
              : config.backoff.initialMs) * 1e6,
          IgnoredMediaTypes: goSlice(config.ignoredMediaTypes),
          Ignore: {
            MediaTypes: goSlice(config.ignore.mediaTypes),
            Actions: goSlice(config.ignore.actions),
          },
          Disabled: config.disabled,
          Metrics: {
            Pending: stats.pending,
            Events: stats.events,
            Successes: stats.successes,
            Failures: stats.failures,
            Errors: stats.errors,
            Statuses: Object.fromEntries(stats.statuses),
          },
        })),
      },
    },
    relay: {
      uptimeSeconds: Math.round((now - startedAt) / 1000),
      ...(config === undefined ? {} : { config }),
      ingest: {
        events: ingest.events,
        duplicates: ingest.duplicates,
        requests: Object.fromEntries([...ingest.requests].map(([k, v]) => [String(k), v])),
      },
      endpoints: endpoints.map(({ config, stats }) => ({
        name: config.name,
        MaxPending: config.maxPending,
        Backoff: config.backoff,
        Format: config.format.type,
        Batch: config.batch,
        Concurrency: config.concurrency,
        Signed: config.signing !== undefined,
        Dropped: stats.dropped,
        DeadLettered: stats.deadLettered,
        ...(dead === undefined ? {} : { DeadLetters: dead.get(config.name) ?? 0 }),
        DeliveryLatency: {
          Count: stats.latency.count,
          MeanMs: stats.latency.count === 0 ? 0 : stats.latency.sumMs / stats.latency.count,
          MaxMs: stats.latency.maxMs,
        },
      })),
      ...(journal === undefined
        ? {}
        : {
            journal: {
              path: journal.journal.path,
              sync: journal.journal.sync,
              bytes: journal.journal.bytes,
              maxSize: journal.journal.maxSize,
              orphanedPending: Object.fromEntries(journal.orphans),
            },
          }),
    },
    cmdline: process.argv,
    memstats: {
      Sys: mem.rss,
      HeapAlloc: mem.heapUsed,
      HeapSys: mem.heapTotal,
      External: mem.external,
      ArrayBuffers: mem.arrayBuffers,
    },
  };
}
