import type { Tracing } from '../core/tracing.ts';
import type { Logger } from 'pino';
import type { ImageFactsSource } from '../core/image.ts';
import type { ApplyReport } from '../config/reload-outcome.ts';
import type { Route } from '../endpoint/filter.ts';
import type { Clock } from '../core/clock.ts';
import { canonicalJson } from '../config/canonical.ts';
import type { EndpointConfig } from '../config/schema.ts';
import type { DeliveryLoop } from '../endpoint/delivery-loop.ts';
import type { Endpoint } from '../metrics/endpoint-view.ts';
import { buildEndpoint } from './pipeline.ts';
import type { AttemptLog } from '../history/attempts.ts';
import type { EventTrail } from '../history/events.ts';
import type { RelayMetrics } from '../metrics/registry.ts';
import { keepsPauses, sharesPauses, type Storage } from '../storage/storage.ts';

export interface EndpointSetDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: RelayMetrics;
  readonly env: NodeJS.ProcessEnv;
  readonly storage: Storage;
  /** How long a removed or changed endpoint may finish what it has in flight. */
  readonly handoverMs: () => number;
  /** A removed endpoint finished what it had in flight. */
  readonly onRetired?: (name: string) => void;
  readonly attempts?: AttemptLog | undefined;
  readonly trail?: EventTrail | undefined;
  /** The configured registries, when there are any. */
  readonly images?: ImageFactsSource | undefined;
  /** With tracing on: every delivery attempt is a span. */
  readonly tracing?: Tracing | undefined;
}

/**
 * The configured endpoints, applied by name the way go-events' Broadcaster adds and
 * removes sinks: start and reload are the same code path.
 * - unchanged: keeps running untouched (connections, breaker, requests in flight);
 * - changed: stops leasing, lets its requests in flight finish (up to `handoverMs`, then
 *   they go back to the backlog), and a pipeline built from the new config continues the
 *   same backlog: new URL, headers, format or signing apply to every event not yet
 *   delivered;
 * - removed: takes no new events at once; with durable storage its backlog is kept for
 *   when it returns, in memory it is drained until `handoverMs` and the rest logged;
 * - added: starts with the events accepted from now on.
 * Its routes change synchronously with `apply`, so every event accepted after it returns
 * goes by the new config.
 */
export class EndpointSet {
  readonly #deps: EndpointSetDeps;
  #endpoints = new Map<string, Endpoint>();
  #routes: Route[] = [];
  /** Endpoints changing or going away: finishing their requests in flight. */
  readonly #retiring = new Set<Promise<void>>();
  /** Paused by name: a rebuilt pipeline (reload) stays paused. */
  readonly #paused = new Set<string>();
  /** Loops of pipelines a reload replaced, by name, until their requests in flight end. */
  readonly #replaced = new Map<string, Set<DeliveryLoop>>();

  constructor(deps: EndpointSetDeps) {
    this.#deps = deps;
    // Paused before a restart (the journal keeps pauses).
    const storage = deps.storage;
    if (keepsPauses(storage)) {
      for (const name of storage.pausedEndpoints()) this.#paused.add(name);
    }
    // Relays sharing storage (NATS): a pause or resume through any of them holds here too.
    if (sharesPauses(storage)) {
      storage.watchPaused((name, paused) => {
        if (paused) this.#pauseHere(name);
        else this.#resumeHere(name);
      });
    }
  }

  /** Has storage keep the pause (or its end), where it keeps pauses at all. */
  #keepPause(name: string, paused: boolean): void | Promise<void> {
    const storage = this.#deps.storage;
    return keepsPauses(storage) ? storage.setPaused(name, paused) : undefined;
  }

  #pauseHere(name: string): boolean {
    if (this.#paused.has(name)) return false;
    this.#paused.add(name);
    this.#endpoints.get(name)?.loop?.pause();
    return true;
  }

  #resumeHere(name: string): boolean {
    if (!this.#paused.delete(name)) return false;
    this.#endpoints.get(name)?.loop?.resume();
    return true;
  }

  get list(): readonly Endpoint[] {
    return [...this.#endpoints.values()];
  }

  get routes(): readonly Route[] {
    return this.#routes;
  }

  apply(configs: readonly EndpointConfig[]): ApplyReport {
    const next = new Map<string, Endpoint>();
    const added: string[] = [];
    const changed: { name: string; keys: string[] }[] = [];
    for (const config of configs) {
      const current = this.#endpoints.get(config.name);
      if (current === undefined) {
        next.set(config.name, this.#build(config));
        added.push(config.name);
        continue;
      }
      const keys = changedKeys(current.config, config);
      if (keys.length === 0) {
        next.set(config.name, current);
        continue;
      }
      changed.push({ name: config.name, keys });
      // The old pipeline stops leasing now; the new one takes over the backlog once the
      // old one's requests in flight are done, so no event goes to both URLs.
      const handedOver = this.#retire(current, 'changed');
      next.set(config.name, this.#build(config, current, handedOver));
    }
    const removed: string[] = [];
    for (const [name, endpoint] of this.#endpoints) {
      if (next.has(name)) continue;
      removed.push(name);
      // A removed endpoint's pause ends with it: if it returns, it delivers.
      if (this.#paused.delete(name)) {
        void Promise.resolve(this.#keepPause(name, false)).catch((err: unknown) => {
          this.#deps.log.warn(
            { err, endpoint: name },
            'could not clear the pause of a removed endpoint',
          );
        });
      }
      void this.#retire(endpoint, 'removed').then(() => {
        endpoint.stats.forget();
        this.#deps.onRetired?.(name);
      });
    }
    this.#endpoints = next;
    this.#routes = [...next.values()].flatMap((e) => (e.route === undefined ? [] : [e.route]));
    return { added, changed, removed };
  }

  get(name: string): Endpoint | undefined {
    return this.#endpoints.get(name);
  }

  /** Requests in flight to `name`, those of a pipeline a reload is replacing included. */
  inFlight(name: string): number {
    let n = this.#endpoints.get(name)?.loop?.inFlight ?? 0;
    for (const loop of this.#replaced.get(name) ?? []) n += loop.inFlight;
    return n;
  }

  isPaused(name: string): boolean {
    return this.#paused.has(name);
  }

  /**
   * Stops starting deliveries to `name`; its backlog keeps filling. False if already so.
   * Applied here at once, then kept by storage (the journal; NATS, for every relay):
   * rejects if storage could not keep it.
   */
  async pause(name: string): Promise<boolean> {
    if (!this.#pauseHere(name)) return false;
    await this.#keepPause(name, true);
    return true;
  }

  /** Delivers `name`'s backlog again. False if it was not paused. */
  async resume(name: string): Promise<boolean> {
    if (!this.#resumeHere(name)) return false;
    await this.#keepPause(name, false);
    return true;
  }

  /** Delivers what is pending, everywhere, until `timeoutMs`; then abandons the rest. */
  async drain(timeoutMs: number): Promise<boolean> {
    const loops = this.list.flatMap((e) => (e.loop === undefined ? [] : [e.loop]));
    const deadline = new AbortController();
    const closed = Promise.all([...loops.map((l) => l.close()), ...this.#retiring]).then(
      () => true,
    );
    const timedOut = this.#deps.clock.sleep(timeoutMs, deadline.signal).then(() => false);
    const drained = await Promise.race([closed, timedOut]);
    deadline.abort();
    if (!drained) this.destroy();
    return drained;
  }

  destroy(): void {
    for (const e of this.#endpoints.values()) e.loop?.destroy();
  }

  #build(config: EndpointConfig, previous?: Endpoint, after?: Promise<void>): Endpoint {
    const endpoint = buildEndpoint(config, {
      clock: this.#deps.clock,
      log: this.#deps.log,
      metrics: this.#deps.metrics,
      env: this.#deps.env,
      storage: this.#deps.storage,
      attempts: this.#deps.attempts,
      trail: this.#deps.trail,
      images: this.#deps.images,
      tracing: this.#deps.tracing,
      paused: this.#paused.has(config.name),
      ...(previous === undefined ? {} : { stats: previous.stats }),
      ...(after === undefined ? {} : { startAfter: after }),
    });
    return endpoint;
  }

  /** Stops `endpoint` taking events and lets it finish what is in flight, up to handoverMs. */
  #retire(endpoint: Endpoint, why: 'changed' | 'removed'): Promise<void> {
    const loop = endpoint.loop;
    if (loop === undefined) return Promise.resolve();
    const log = this.#deps.log.child({ endpoint: endpoint.config.name });
    const durable = this.#deps.storage.durable;
    // A removed endpoint in memory mode has nowhere to keep its backlog: it drains.
    const work = why === 'removed' && !durable ? loop.close() : loop.stop();
    const name = endpoint.config.name;
    if (why === 'changed') {
      const loops = this.#replaced.get(name) ?? new Set<DeliveryLoop>();
      loops.add(loop);
      this.#replaced.set(name, loops);
    }
    const deadline = new AbortController();
    const timedOut = this.#deps.clock.sleep(this.#deps.handoverMs(), deadline.signal);
    const done = Promise.race([work, timedOut]).then(() => {
      deadline.abort();
      loop.destroy();
      const loops = this.#replaced.get(name);
      loops?.delete(loop);
      if (loops?.size === 0) this.#replaced.delete(name);
      log.info(
        why === 'removed'
          ? 'endpoint retired: removed from the config'
          : 'endpoint retired: the pipeline built from the new config takes over',
      );
      if (why !== 'removed') return;
      if (durable) {
        const pending = endpoint.backlog?.pending ?? 0;
        // Kept in storage for the endpoint's return; a shared backend also stops taking
        // its events here, and gives back what this relay held.
        this.#deps.storage.forget(endpoint.config.name);
        if (pending > 0) {
          log.warn(
            { pending },
            'endpoint removed from the config: its undelivered events stay in storage until it returns (journal: or `registry-relay journal purge --endpoint NAME`; NATS: or storage.nats.maxAge)',
          );
        }
        return;
      }
      const left = endpoint.backlog?.lease(Number.MAX_SAFE_INTEGER) ?? [];
      endpoint.backlog?.ack(left);
      this.#deps.storage.forget(endpoint.config.name);
      if (left.length > 0) {
        log.warn(
          { undelivered: left.length, eventIds: left.map((e) => e.id) },
          'endpoint removed from the config: these events were not delivered (a request cut off at the deadline may have arrived all the same)',
        );
      }
    });
    this.#retiring.add(done);
    void done.finally(() => this.#retiring.delete(done));
    return done;
  }
}

/** The top-level keys of an endpoint's config that differ (TLS files compared by content). */
export function changedKeys(before: EndpointConfig, after: EndpointConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  return [...keys].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])).sort();
}
