import type { LeasesWalks, WalkLease } from './storage.ts';

/**
 * Walk leases for a relay that has its storage to itself (memory, the journal): always
 * granted, one walk per registry at a time, progress kept in this process.
 */
export class LocalLeases implements LeasesWalks {
  readonly #held = new Set<string>();
  readonly #progress = new Map<string, string>();

  takeWalkLease(registry: string): Promise<WalkLease | undefined> {
    if (this.#held.has(registry)) return Promise.resolve(undefined);
    this.#held.add(registry);
    const lease: WalkLease = {
      resumeAfter: this.#progress.get(registry),
      renew: () => Promise.resolve(this.#held.has(registry)),
      progress: (repository) => {
        this.#progress.set(registry, repository);
        return Promise.resolve();
      },
      release: (complete) => {
        if (complete) this.#progress.delete(registry);
        this.#held.delete(registry);
        return Promise.resolve();
      },
    };
    return Promise.resolve(lease);
  }
}
