import { Ring } from '../core/ring.ts';
import type { NewEvent, RelayEvent } from '../core/event.ts';

/** Where one event is for one endpoint, as this relay saw it. */
export type Whereabouts = 'pending' | 'delivered' | 'dead-letter' | 'dropped' | 'filtered-out';

export interface Mark {
  readonly state: Whereabouts;
  /** Epoch ms of the change (delivered, dead-lettered, dropped). */
  readonly at?: number | undefined;
  /** Why it is a dead letter, or why it was filtered out at delivery. */
  readonly reason?: string | undefined;
}

export interface Trail {
  readonly acceptedAt: number;
  readonly endpoints: Readonly<Record<string, Mark>>;
}

const PENDING: Mark = { state: 'pending' };
const FILTERED: Mark = { state: 'filtered-out' };

/** One event as the trail keeps it: shared arrays, and a mark only where something changed. */
interface Kept {
  readonly acceptedAt: number;
  /** The endpoints it was kept for (shared with the ingest call). */
  readonly owed: readonly string[];
  /** Every endpoint configured when it came (shared by the events of one request). */
  readonly routes: readonly string[];
  marks: Map<string, Mark> | undefined;
}

/**
 * The whereabouts of the newest `keep` events this relay accepted, per endpoint: pending,
 * delivered when, dead letter and why, dropped, or filtered out. `GET /api/v1/events/{id}`
 * answers from it (and from the durable attempts log and dead letters for the rest).
 * Per event one small record referring to arrays ingest made anyway; a mark per endpoint
 * once the event leaves its backlog. The oldest goes when it is full.
 */
export class EventTrail {
  readonly #keep: number;
  readonly #events = new Map<string, Kept>();
  /**
   * The kept ids in acceptance order: the oldest goes from here, not from the Map's own
   * order. Finding a Map's first key after deleting its head skips every deleted slot
   * until V8 rehashes, about 11 µs an event at the default `keep`.
   */
  readonly #order = new Ring<string>();

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
      // A re-acceptance (a replay, a re-send after the window) keeps the first record.
      if (this.#events.has(event.id)) return;
      this.#events.set(event.id, {
        acceptedAt: event.acceptedAt,
        owed: targets[i] ?? [],
        routes,
        marks: undefined,
      });
      this.#order.push(event.id);
      if (this.#events.size > this.#keep) {
        const oldest = this.#order.shift();
        if (oldest !== undefined) this.#events.delete(oldest);
      }
    });
  }

  #mark(endpoint: string, eventId: string, mark: Mark): void {
    const kept = this.#events.get(eventId);
    if (kept === undefined) return;
    (kept.marks ??= new Map()).set(endpoint, mark);
  }

  delivered(endpoint: string, event: RelayEvent, at: number): void {
    this.#mark(endpoint, event.id, { state: 'delivered', at });
  }

  deadLettered(endpoint: string, event: RelayEvent, at: number, reason: string): void {
    this.#mark(endpoint, event.id, { state: 'dead-letter', at, reason });
  }

  /** Acknowledged unsent at delivery: refused by a fact filter, or a re-send. */
  skipped(endpoint: string, event: RelayEvent, at: number, reason: string): void {
    this.#mark(endpoint, event.id, { state: 'filtered-out', at, reason });
  }

  dropped(endpoint: string, event: RelayEvent, at: number): void {
    this.#mark(endpoint, event.id, { state: 'dropped', at });
  }

  get(id: string): Trail | undefined {
    const kept = this.#events.get(id);
    if (kept === undefined) return undefined;
    const endpoints: Record<string, Mark> = {};
    for (const name of kept.routes) endpoints[name] = kept.owed.includes(name) ? PENDING : FILTERED;
    for (const [name, mark] of kept.marks ?? []) endpoints[name] = mark;
    return { acceptedAt: kept.acceptedAt, endpoints };
  }
}
