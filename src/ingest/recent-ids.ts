import type { Clock } from '../clock.ts';
import { Deque } from '../deque.ts';

/**
 * Event ids accepted within the last `windowMs`, at most `maxIds` of them. The registry
 * re-sends an event whenever its own timeout fires before the relay answers; those copies
 * carry the same id and must be acknowledged without being delivered twice.
 */
interface Entry {
  readonly id: string;
  readonly at: number;
}

export class RecentIds {
  readonly #windowMs: number;
  readonly #maxIds: number;
  readonly #clock: Clock;
  readonly #byId = new Map<string, Entry>();
  // Acceptance order, oldest first, for expiry. A Map alone would do in theory, but
  // iterating one whose head was deleted skips every deleted slot: at 20,000 events/s that
  // was a fifth of ingest CPU. An entry whose id was deleted or re-added is stale and
  // skipped when it reaches the head.
  readonly #order = new Deque<Entry>();

  constructor(windowMs: number, maxIds: number, clock: Clock) {
    this.#windowMs = windowMs;
    this.#maxIds = maxIds;
    this.#clock = clock;
  }

  get size(): number {
    return this.#byId.size;
  }

  has(id: string): boolean {
    if (this.#windowMs <= 0) return false;
    this.#expire(this.#clock.now());
    return this.#byId.has(id);
  }

  add(id: string): void {
    if (this.#windowMs <= 0) return;
    const entry = { id, at: this.#clock.now() };
    this.#byId.set(id, entry);
    this.#order.push(entry);
    this.#expire(entry.at);
  }

  /** Remembers an id accepted at `at` before a restart (oldest first, as the journal lists them). */
  restore(id: string, at: number): void {
    if (this.#windowMs <= 0) return;
    const entry = { id, at };
    this.#byId.set(id, entry);
    this.#order.push(entry);
  }

  delete(id: string): void {
    this.#byId.delete(id);
  }

  #expire(now: number): void {
    for (let head = this.#order.peek(); head !== undefined; head = this.#order.peek()) {
      const current = this.#byId.get(head.id) === head;
      if (current && this.#byId.size <= this.#maxIds && now - head.at < this.#windowMs) return;
      this.#order.shift();
      if (current) this.#byId.delete(head.id);
    }
  }
}
