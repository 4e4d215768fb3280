import type { Clock } from '../core/clock.ts';
import { Ring } from '../core/ring.ts';

// Entry numbers wrap at 2^30 so that they stay small integers (no heap number per id);
// the rings never hold more than 2 × maxIds + 1 entries (maxIds ≤ 10,000,000), far fewer.
const SERIAL_MASK = 0x3fffffff;

/**
 * Event ids accepted within the last `windowMs`, at most `maxIds` of them. The registry
 * re-sends an event whenever its own timeout fires before the relay answers; those copies
 * carry the same id and must be acknowledged without being delivered twice.
 *
 * Kept as columns, about 50 bytes an id: a map from id to the number of its newest entry,
 * and two rings in acceptance order (ids, and their times unboxed) for expiry. A Map alone
 * would do in theory, but iterating one whose head was deleted skips every deleted slot:
 * at 20,000 events/s that was a fifth of ingest CPU. An entry whose id was deleted or
 * added again is stale and skipped when it reaches the head.
 */
export class RecentIds {
  readonly #windowMs: number;
  readonly #maxIds: number;
  readonly #clock: Clock;
  readonly #entryOf = new Map<string, number>();
  #ids = new Ring<string>();
  #times = Ring.ofNumbers();
  /** The number of the entry at the head of the rings. */
  #head = 0;

  constructor(windowMs: number, maxIds: number, clock: Clock) {
    this.#windowMs = windowMs;
    this.#maxIds = maxIds;
    this.#clock = clock;
  }

  get size(): number {
    return this.#entryOf.size;
  }

  has(id: string): boolean {
    if (this.#windowMs <= 0) return false;
    this.#expire(this.#clock.now());
    return this.#entryOf.has(id);
  }

  add(id: string): void {
    if (this.#windowMs <= 0) return;
    const now = this.#clock.now();
    this.#append(id, now);
    this.#expire(now);
  }

  /** Remembers an id accepted at `at` before a restart (oldest first, as the journal lists them). */
  restore(id: string, at: number): void {
    if (this.#windowMs <= 0) return;
    this.#append(id, at);
  }

  delete(id: string): void {
    this.#entryOf.delete(id);
  }

  #append(id: string, at: number): void {
    this.#entryOf.set(id, (this.#head + this.#ids.length) & SERIAL_MASK);
    this.#ids.push(id);
    this.#times.push(at);
    // Ids refused again (deleted) leave stale entries until they expire; when they
    // outnumber the live ones, the rings are rebuilt without them.
    if (this.#ids.length > 2 * Math.max(this.#maxIds, this.#entryOf.size)) this.#dropStale();
  }

  #dropStale(): void {
    const ids = new Ring<string>();
    const times = Ring.ofNumbers();
    for (let id = this.#ids.shift(); id !== undefined; id = this.#ids.shift()) {
      const at = this.#times.shift() ?? 0;
      if (this.#entryOf.get(id) === this.#head) {
        this.#entryOf.set(id, ids.length);
        ids.push(id);
        times.push(at);
      }
      this.#head = (this.#head + 1) & SERIAL_MASK;
    }
    this.#ids = ids;
    this.#times = times;
    this.#head = 0;
  }

  #expire(now: number): void {
    for (let id = this.#ids.peek(); id !== undefined; id = this.#ids.peek()) {
      const current = this.#entryOf.get(id) === this.#head;
      if (current) {
        const young = now - (this.#times.peek() ?? 0) < this.#windowMs;
        if (young && this.#entryOf.size <= this.#maxIds) return;
        this.#entryOf.delete(id);
      }
      this.#ids.shift();
      this.#times.shift();
      this.#head = (this.#head + 1) & SERIAL_MASK;
    }
  }
}
