import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { RegistryError } from '../core/errors.ts';
import type { LeasesWalks, WalkLease } from '../storage/storage.ts';
import type { TagRecord, TagState } from '../storage/tags.ts';
import type { ReconcilePlan, RegistryClient } from './client.ts';
import { Budget, headTag, listCatalog, listTags } from './walk.ts';

/** What one walk came to, as the admin API and metrics show it. */
export interface PassReport {
  readonly startedAt: number;
  readonly finishedAt: number;
  /** `complete`, `failed` (the registry refused or failed: no deletes from what was not listed), `lost-lease`. */
  readonly result: 'complete' | 'failed' | 'lost-lease';
  readonly first: boolean;
  readonly repositories: number;
  readonly tags: number;
  readonly pushes: number;
  readonly deletes: number;
  readonly requests: number;
  readonly error: string | undefined;
}

/** How a reconciler reports to metrics (implemented there). */
export interface ReconcileListener {
  onPass(registry: string, report: PassReport): void;
}

/** Hands reported events to ingest's own path (de-duplication, routing, storage). */
export type Report = (events: readonly Record<string, unknown>[]) => Promise<void>;

/** The source name reported events carry (`relay.source`, and `filter.sources`). */
export const RECONCILE_SOURCE = 'reconcile';

/** How often a walk renews its lease (a third of its life). */
const RENEW_EVERY_MS = 5_000;

/**
 * One registry's reconciliation: every `interval`, one relay (the holder of the walk
 * lease) lists the catalog and every matching repository's tags, asks each tag's digest,
 * and compares with what the relay knows (TagState, fed by every push and delete it
 * accepts). A tag it never heard of, or one that points elsewhere now, is reported as a
 * push; a known tag that is gone, as a delete. Each is reported once: its id is derived
 * from (registry, repository, tag, digest), and the state records it before the next
 * repository is walked. A repository whose listing failed reports no deletes, nor does
 * the catalog when it could not be listed whole.
 */
export class Reconciler {
  readonly #client: RegistryClient;
  readonly #plan: ReconcilePlan;
  readonly #state: TagState;
  readonly #leases: LeasesWalks;
  readonly #holder: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #listener: ReconcileListener;
  readonly #report: Report;
  readonly #matches: (repository: string) => boolean;
  #stopTimer: (() => void) | undefined;
  #running: Promise<PassReport | undefined> | undefined;
  #walking = false;
  #stop = new AbortController();
  last: PassReport | undefined;
  nextAt: number | undefined;

  constructor(opts: {
    client: RegistryClient;
    plan: ReconcilePlan;
    state: TagState;
    leases: LeasesWalks;
    holder: string;
    clock: Clock;
    log: Logger;
    listener: ReconcileListener;
    report: Report;
  }) {
    this.#client = opts.client;
    this.#plan = opts.plan;
    this.#state = opts.state;
    this.#leases = opts.leases;
    this.#holder = opts.holder;
    this.#clock = opts.clock;
    this.#log = opts.log.child({ registry: opts.client.plan.name });
    this.#listener = opts.listener;
    this.#report = opts.report;
    const globs = opts.plan.repositories.map((p) => picomatch(p, { dot: true }));
    this.#matches = (r) => globs.some((g) => g(r));
  }

  get name(): string {
    return this.#client.plan.name;
  }

  /** This relay holds the walk lease and is walking now. */
  get running(): boolean {
    return this.#walking;
  }

  /** The first pass at once, then one every `interval` (a pass in progress is not doubled). */
  start(): void {
    this.nextAt = this.#clock.now();
    void this.runNow();
    this.#stopTimer = this.#clock.every(this.#plan.intervalMs, () => {
      void this.runNow();
    });
  }

  /** A pass now (or the one in progress). Resolves with its report; undefined when another relay walks. */
  runNow(): Promise<PassReport | undefined> {
    if (this.#running !== undefined) return this.#running;
    this.#running = this.#pass()
      .catch((err: unknown) => {
        this.#log.error({ err }, 'reconciliation pass failed unexpectedly');
        return undefined;
      })
      .finally(() => {
        this.#running = undefined;
        this.nextAt = this.#clock.now() + this.#plan.intervalMs;
      });
    return this.#running;
  }

  async #pass(): Promise<PassReport | undefined> {
    await this.#state.ready;
    const lease = await this.#leases.takeWalkLease(this.name, this.#holder, 15_000);
    if (lease === undefined) return undefined;
    this.#walking = true;
    const startedAt = this.#clock.now();
    const budget = new Budget(this.#plan.budget, this.#clock);
    const known = this.#state.of(this.name);
    const first = known.length === 0;
    const counts = { repositories: 0, tags: 0, pushes: 0, deletes: 0 };
    const held = { lost: false };
    const renewing = this.#clock.every(RENEW_EVERY_MS, () => {
      void lease.renew().then((still) => {
        if (!still) held.lost = true;
      });
    });
    let error: string | undefined;
    let complete = false;
    try {
      complete = await this.#walk(lease, budget, known, first, counts, () => held.lost);
      // A registry walked whole once is known, even when it had no tags: what appears
      // later is a difference, not a first sight.
      if (complete && first) {
        this.#state.set({
          registry: this.name,
          repository: '',
          tag: '',
          digest: '',
          by: 'reconcile',
          deleted: true,
          at: startedAt,
        });
        await this.#state.flushed();
      }
    } catch (err) {
      // The registry failing, or storage refusing the reported events: the pass ends here.
      error = err instanceof Error ? err.message : String(err);
      if (err instanceof RegistryError) {
        this.#log.warn(
          { reason: err.reason, err: err.message },
          'reconciliation pass failed: nothing is reported deleted from what was not listed',
        );
      } else this.#log.error({ err }, 'reconciliation pass failed');
    } finally {
      renewing();
      this.#walking = false;
      await lease.release(complete).catch(() => undefined);
    }
    const report: PassReport = {
      startedAt,
      finishedAt: this.#clock.now(),
      result: held.lost ? 'lost-lease' : error === undefined ? 'complete' : 'failed',
      first,
      ...counts,
      requests: budget.spent,
      error,
    };
    this.last = report;
    this.#listener.onPass(this.name, report);
    this.#log.info(
      {
        ...counts,
        requests: report.requests,
        result: report.result,
        first,
        seconds: (report.finishedAt - startedAt) / 1000,
      },
      'reconciliation pass done',
    );
    return report;
  }

  /** True when the whole registry was listed (the lease may then forget the progress). */
  async #walk(
    lease: WalkLease,
    budget: Budget,
    known: readonly TagRecord[],
    first: boolean,
    counts: { repositories: number; tags: number; pushes: number; deletes: number },
    lost: () => boolean,
  ): Promise<boolean> {
    const signal = this.#stop.signal;
    const halted = (): boolean => lost() || this.#stop.signal.aborted;
    const listed = this.#plan.catalog
      ? (await listCatalog(this.#client, budget, signal)).filter(this.#matches)
      : [...this.#plan.repositories];
    const repositories = [...new Set(listed)].sort();
    const after = lease.resumeAfter;
    const report = !first || this.#plan.reportFirstPass;
    const byRepository = new Map<string, TagRecord[]>();
    for (const r of known) {
      if (!byRepository.has(r.repository)) byRepository.set(r.repository, []);
      byRepository.get(r.repository)?.push(r);
    }
    for (const repository of repositories) {
      if (after !== undefined && repository <= after) continue;
      if (halted()) return false;
      const tags = await listTags(this.#client, budget, repository, signal).catch(
        (err: unknown) => {
          // A repository the catalog named and that is gone now: it has no tags.
          if (err instanceof RegistryError && err.reason === 'not_found') return [];
          throw err;
        },
      );
      counts.repositories += 1;
      const events: Record<string, unknown>[] = [];
      const records: TagRecord[] = [];
      const seenAt = this.#clock.now();
      const present = new Set<string>();
      for (const tag of tags) {
        if (halted()) return false;
        const head = await headTag(this.#client, budget, repository, tag, signal);
        if (head === undefined) continue;
        counts.tags += 1;
        present.add(tag);
        const rec = this.#state.get(this.name, repository, tag);
        if (rec !== undefined && !rec.deleted && rec.digest === head.digest) continue;
        const record: TagRecord = {
          registry: this.name,
          repository,
          tag,
          digest: head.digest,
          by: report ? 'reconcile' : 'event',
          deleted: false,
          at: seenAt,
        };
        records.push(record);
        if (report) {
          events.push(
            this.#event('push', repository, tag, head.digest, seenAt, head.mediaType, head.size),
          );
          counts.pushes += 1;
        }
      }
      for (const rec of byRepository.get(repository) ?? []) {
        if (rec.deleted || present.has(rec.tag)) continue;
        records.push({ ...rec, by: 'reconcile', deleted: true, at: seenAt });
        events.push(this.#event('delete', repository, rec.tag, rec.digest, seenAt));
        counts.deletes += 1;
      }
      await this.#settle(events, records);
      await lease.progress(repository);
    }
    // Known repositories the whole catalog no longer names: every tag of theirs is gone.
    if (this.#plan.catalog) {
      const listedSet = new Set(repositories);
      const events: Record<string, unknown>[] = [];
      const records: TagRecord[] = [];
      const seenAt = this.#clock.now();
      for (const [repository, recs] of byRepository) {
        if (listedSet.has(repository) || !this.#matches(repository)) continue;
        for (const rec of recs) {
          if (rec.deleted) continue;
          records.push({ ...rec, by: 'reconcile', deleted: true, at: seenAt });
          events.push(this.#event('delete', repository, rec.tag, rec.digest, seenAt));
          counts.deletes += 1;
        }
      }
      await this.#settle(events, records);
    }
    return true;
  }

  /** Reports `events` (accepted as any event is), then records what they say. */
  async #settle(
    events: readonly Record<string, unknown>[],
    records: readonly TagRecord[],
  ): Promise<void> {
    if (events.length > 0) await this.#report(events);
    for (const r of records) this.#state.set(r);
    await this.#state.flushed();
  }

  #event(
    action: 'push' | 'delete',
    repository: string,
    tag: string,
    digest: string,
    seenAt: number,
    mediaType?: string,
    size?: number,
  ): Record<string, unknown> {
    const plan = this.#client.plan;
    const id = `reconcile-${createHash('sha256')
      .update(JSON.stringify([plan.name, repository, tag, digest, action]))
      .digest('base64url')
      .slice(0, 32)}`;
    const when = new Date(seenAt).toISOString();
    return {
      id,
      timestamp: when,
      action,
      target: {
        ...(mediaType === undefined ? {} : { mediaType }),
        ...(size === undefined ? {} : { size, length: size }),
        digest,
        repository,
        url: `${plan.url}/v2/${repository}/manifests/${digest}`,
        tag,
      },
      request: { host: plan.hosts[0] ?? new URL(plan.url).host },
      actor: {},
      source: {},
      relay: {
        source: RECONCILE_SOURCE,
        type: RECONCILE_SOURCE,
        reconciled: { registry: plan.name, seenAt: when },
      },
    };
  }

  async stop(): Promise<void> {
    this.#stopTimer?.();
    this.#stop.abort();
    await this.#running;
  }
}
