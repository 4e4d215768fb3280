import type { RegistriesListener } from '../registry/registries.ts';
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
