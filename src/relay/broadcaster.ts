import type { Accepted, NewEvent } from '../core/event.ts';
import type { Route } from '../endpoint/filter.ts';
import type { Storage } from '../storage/storage.ts';

/** Events kept, each for `targets[i]`, while `routes` were configured. */
export type OnStored = (
  events: readonly NewEvent[],
  targets: readonly (readonly string[])[],
  routes: readonly string[],
) => void;

/**
 * Decides, for every event, which endpoints' filters accept it, and has storage keep it
 * for those endpoints. Storage hands events to the endpoints' backlogs only once they are
 * kept (with the journal: committed), so a delivery loop only ever sees an event that
 * will survive a crash; no endpoint's state delays another's or ingest's answer.
 */
export class Broadcaster {
  /** The routes in force now (a reload replaces them between two requests). */
  readonly #routes: () => readonly Route[];
  readonly #storage: Storage;

  /** Told what was kept for which endpoints (the admin API's event whereabouts). */
  readonly #onStored: OnStored | undefined;

  constructor(routes: () => readonly Route[], storage: Storage, onStored?: OnStored) {
    this.#routes = routes;
    this.#storage = storage;
    this.#onStored = onStored;
  }

  /** Resolves once every event is kept for every matching endpoint; rejects if that failed. */
  write(accepted: readonly Accepted[]): Promise<void> {
    const events = accepted.map((a) => a.event);
    const routes = this.#routes();
    const targets = accepted.map((a) =>
      routes.filter((r) => r.accepts(a.facts)).map((r) => r.name),
    );
    const stored = this.#storage.append(events, targets);
    const onStored = this.#onStored;
    if (onStored === undefined) return stored;
    return stored.then(() => {
      onStored(
        events,
        targets,
        routes.map((r) => r.name),
      );
    });
  }
}
