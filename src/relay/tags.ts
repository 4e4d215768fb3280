// What the relay knows of the registries' tags, fed by every push and delete ingest accepts
// (reconciliation's own reports it records itself), and the late registry events for what
// reconciliation reported first, which are duplicates.
import type { Accepted } from '../core/event.ts';
import type { Clock } from '../core/clock.ts';
import type { TagWatch } from '../ingest/deps.ts';
import { RECONCILE_SOURCE } from '../registry/reconcile.ts';
import type { TagState } from '../storage/tags.ts';

export function tagWatch(
  state: TagState,
  registryFor: (host: string | undefined, source: string) => string | undefined,
  clock: Clock,
): TagWatch {
  const about = (a: Accepted) => {
    const f = a.facts;
    if (f.source === RECONCILE_SOURCE || f.repository === undefined) return undefined;
    const registry = registryFor(f.host, f.source);
    return registry === undefined ? undefined : { registry, repository: f.repository, f };
  };
  return {
    lateDuplicate(a) {
      const at = about(a);
      if (at === undefined || at.f.tag === undefined) return false;
      const rec = state.get(at.registry, at.repository, at.f.tag);
      if (rec?.by !== 'reconcile') return false;
      const now = clock.now();
      if (at.f.action === 'push' && !rec.deleted && rec.digest === at.f.digest) {
        // Reported by a walk, and now the registry's own event: one event, confirmed.
        state.set({ ...rec, by: 'event', at: now });
        return true;
      }
      if (at.f.action === 'delete' && rec.deleted && at.f.digest === undefined) {
        state.remove(at.registry, at.repository, at.f.tag);
        return true;
      }
      return false;
    },
    observe(accepted) {
      const now = clock.now();
      for (const a of accepted) {
        const at = about(a);
        if (at === undefined) continue;
        const { f, registry, repository } = at;
        if (
          f.action === 'push' &&
          f.tag !== undefined &&
          f.digest !== undefined &&
          f.targets.includes('manifest')
        ) {
          state.set({
            registry,
            repository,
            tag: f.tag,
            digest: f.digest,
            by: 'event',
            deleted: false,
            at: now,
          });
        } else if (f.action === 'delete' && f.tag !== undefined) {
          state.remove(registry, repository, f.tag);
        } else if (f.action === 'delete' && f.digest !== undefined) {
          // A manifest deleted by digest takes every tag that pointed at it.
          for (const rec of state.of(registry)) {
            if (rec.repository === repository && rec.digest === f.digest && !rec.deleted) {
              state.remove(registry, repository, rec.tag);
            }
          }
        }
      }
    },
  };
}
