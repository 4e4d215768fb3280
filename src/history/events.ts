import type { NewEvent, RelayEvent } from '../event.ts';

/** Where one event is for one endpoint, as this relay saw it. */
export type Whereabouts = 'pending' | 'delivered' | 'dead-letter' | 'dropped' | 'filtered-out';

export interface Mark {
  readonly state: Whereabouts;
  /** Epoch ms of the change (delivered, dead-lettered, dropped). */
  readonly at?: number | undefined;
  /** Why it is a dead letter. */
  readonly reason?: string | undefined;
}

export interface Trail {
  readonly acceptedAt: number;
  readonly endpoints: Readonly<Record<string, Mark>>;
}

const PENDING: Mark = { state: 'pending' };
const FILTERED: Mark = { state: 'filtered-out' };

/**
 * The whereabouts of the newest `keep` events this relay accepted, per endpoint: pending,
 * delivered when, dead letter and why, dropped, or filtered out. `GET /api/v1/events/{id}`
 * answers from it (and from the durable attempts log and dead letters for the rest).
 * One small record per event; the oldest goes when it is full.
 */
export class EventTrail {
  readonly #keep: number;
  readonly #events = new Map<string, { acceptedAt: number; endpoints: Record<string, Mark> }>();

  constructor(keep: number) {
    this.#keep = keep;
  }

  /** Stored for `targets[i]`; every other endpoint in `routes` filtered the event out. */
  accepted(
    events: readonly NewEvent[],
    targets: readonly (readonly string[])[],
    routes: readonly string[],
  ): void {
    events.forEach((event, i) => {
      const owed = targets[i] ?? [];
      let trail = this.#events.get(event.id);
      if (trail === undefined) {
        trail = { acceptedAt: event.acceptedAt, endpoints: {} };
        this.#events.set(event.id, trail);
        if (this.#events.size > this.#keep) {
          const oldest = this.#events.keys().next();
          if (oldest.done !== true) this.#events.delete(oldest.value);
        }
      }
      const marks = trail.endpoints;
      // A mark already there (an earlier acceptance's outcome) is newer news: kept.
      for (const name of routes) marks[name] ??= owed.includes(name) ? PENDING : FILTERED;
    });
  }

  #mark(endpoint: string, event: RelayEvent, mark: Mark): void {
    const trail = this.#events.get(event.id);
    if (trail !== undefined) trail.endpoints[endpoint] = mark;
  }

  delivered(endpoint: string, event: RelayEvent, at: number): void {
    this.#mark(endpoint, event, { state: 'delivered', at });
  }

  deadLettered(endpoint: string, event: RelayEvent, at: number, reason: string): void {
    this.#mark(endpoint, event, { state: 'dead-letter', at, reason });
  }

  dropped(endpoint: string, event: RelayEvent, at: number): void {
    this.#mark(endpoint, event, { state: 'dropped', at });
  }

  /** A replayed dead letter is pending again. */
  replayed(endpoint: string, eventId: string): void {
    const trail = this.#events.get(eventId);
    if (trail !== undefined) trail.endpoints[endpoint] = PENDING;
  }

  get(id: string): Trail | undefined {
    return this.#events.get(id);
  }
}
