// Reconciliation, assembled once for the relay: the known tags (kept by the storage
// backend, or in memory), one walk lease per registry (shared on NATS), and a reconciler
// per registry with `reconcile`, whose reports enter through ingest's own path.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { readEnvelope } from '../core/event.ts';
import type { keeper } from '../ingest/accept.ts';
import type { TagWatch } from '../ingest/deps.ts';
import { reconcileMetrics } from '../metrics/registries.ts';
import type { RelayMetrics } from '../metrics/registry.ts';
import type { RegistryPlan } from '../registry/client.ts';
import { RECONCILE_SOURCE, Reconciler, type PassReport } from '../registry/reconcile.ts';
import type { Registries } from '../registry/registries.ts';
import { LocalLeases } from '../storage/local-leases.ts';
import { keepsTags, leasesWalks, type Storage } from '../storage/storage.ts';
import { TagState } from '../storage/tags.ts';
import { tagWatch } from './tags.ts';

export interface Reconciliation {
  readonly watch: TagWatch;
  /** A tag-only push's tag resolved to `digest` (enrichment): known as if its event named it. */
  readonly resolved: (registry: string, repository: string, tag: string, digest: string) => void;
  readonly reconcilers: ReadonlyMap<string, Reconciler>;
  /** Starts the walks, their reports kept through `keep` (ingest's own path). */
  start(keep: ReturnType<typeof keeper>): void;
  stop(): Promise<void>;
}

export function buildReconciliation(deps: {
  plans: readonly RegistryPlan[];
  registries: Registries | undefined;
  storage: Storage;
  instance: string;
  clock: Clock;
  log: Logger;
  metrics: RelayMetrics;
}): Reconciliation | undefined {
  const { registries, storage, clock } = deps;
  const walked = deps.plans.filter((p) => p.reconcile !== undefined);
  if (registries === undefined || walked.length === 0) return undefined;
  const log = deps.log.child({ component: 'reconcile' });
  const state = new TagState(keepsTags(storage) ? storage.tagPersistence() : undefined, (err) => {
    log.error({ err }, 'could not keep what is known of the registry tags');
  });
  if (!state.durable) {
    log.warn(
      'reconciliation in memory mode: the known tags live in this process only, so the first walk after a restart only records what exists (set storage.path or storage.nats to recover what was missed while the relay was down)',
    );
  }
  const leases = leasesWalks(storage) ? storage : new LocalLeases();
  const listener = reconcileMetrics(
    deps.metrics,
    walked.map((p) => p.name),
  );
  let keep: ReturnType<typeof keeper> | undefined;
  const reconcilers = new Map<string, Reconciler>();
  for (const plan of walked) {
    const client = registries.client(plan.name);
    if (client === undefined || plan.reconcile === undefined) continue;
    reconcilers.set(
      plan.name,
      new Reconciler({
        client,
        plan: plan.reconcile,
        state,
        leases,
        holder: deps.instance,
        clock,
        log,
        listener,
        report: async (events) => {
          if (keep === undefined) throw new Error('reconciliation reported before it was started');
          const kept = await keep(readEnvelope({ events }, clock.now(), RECONCILE_SOURCE));
          if (!kept.ok) throw kept.err;
        },
      }),
    );
  }
  return {
    watch: tagWatch(state, (host, source) => registries.registryFor(host, source), clock),
    resolved(registry, repository, tag, digest) {
      if (!reconcilers.has(registry)) return;
      const rec = state.get(registry, repository, tag);
      if (rec !== undefined && !rec.deleted && rec.digest === digest) return;
      state.set({
        registry,
        repository,
        tag,
        digest,
        by: 'event',
        deleted: false,
        at: clock.now(),
      });
    },
    reconcilers,
    start(k) {
      keep = k;
      for (const r of reconcilers.values()) r.start();
    },
    async stop() {
      await Promise.all([...reconcilers.values()].map((r) => r.stop()));
      await state.flushed();
      state.stop();
    },
  };
}

/** What `GET /api/v1/registries` says of a registry's reconciliation. */
export function reconcileView(r: Reconciler | undefined) {
  if (r === undefined) return undefined;
  const iso = (ms: number | undefined) =>
    ms === undefined ? undefined : new Date(ms).toISOString();
  const last: PassReport | undefined = r.last;
  return {
    running: r.running,
    nextPassAt: iso(r.nextAt),
    lastPass:
      last === undefined
        ? undefined
        : {
            ...last,
            startedAt: iso(last.startedAt),
            finishedAt: iso(last.finishedAt),
            seconds: (last.finishedAt - last.startedAt) / 1000,
          },
  };
}
