import type { RegistriesListener } from '../registry/registries.ts';
import type { ReconcileListener } from '../registry/reconcile.ts';
import type { RelayMetrics } from './registry.ts';

/** The registries' requests, cache and time to facts, as Prometheus series. */
export function registryMetrics(
  metrics: RelayMetrics,
  names: readonly string[],
): RegistriesListener {
  for (const name of names) {
    // Every registry's series exist from the start, so a scrape shows it before traffic.
    metrics.registryCache.labels(name, 'hit').inc(0);
    metrics.registryCache.labels(name, 'miss').inc(0);
  }
  return {
    onRequest: (registry, kind, status) => {
      metrics.registryRequests.labels(registry, kind, status).inc();
    },
    onCache: (registry, hit) => {
      metrics.registryCache.labels(registry, hit ? 'hit' : 'miss').inc();
    },
    onFactsReady: (registry, seconds, outcome) => {
      metrics.registryFacts.labels(registry, outcome).observe(seconds);
    },
  };
}

/** Reconciliation walks, as Prometheus series. */
export function reconcileMetrics(
  metrics: RelayMetrics,
  names: readonly string[],
): ReconcileListener {
  for (const name of names) {
    for (const result of ['complete', 'failed'])
      metrics.reconcilePasses.labels(name, result).inc(0);
    for (const kind of ['push', 'delete']) metrics.reconcileDifferences.labels(name, kind).inc(0);
  }
  return {
    onPass: (registry, r) => {
      metrics.reconcilePasses.labels(registry, r.result).inc();
      metrics.reconcileSeconds.labels(registry).observe((r.finishedAt - r.startedAt) / 1000);
      metrics.reconcileRepositories.labels(registry).inc(r.repositories);
      metrics.reconcileTags.labels(registry).inc(r.tags);
      metrics.reconcileDifferences.labels(registry, 'push').inc(r.pushes);
      metrics.reconcileDifferences.labels(registry, 'delete').inc(r.deletes);
      metrics.reconcileRequests.labels(registry).inc(r.requests);
    },
  };
}
