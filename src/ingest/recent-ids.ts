import type { Clock } from '../clock.ts';

/**
 * Event ids accepted within the last `windowMs`, at most `maxIds` of them. The registry
 * re-sends an event whenever its own timeout fires before the relay answers; those copies
 * carry the same id and must be acknowledged without being delivered twice.
 */
export class RecentIds {
  readonly #windowMs: number;
  readonly #maxIds: number;
  readonly #clock: Clock;
  // Insertion order is acceptance order, so the oldest entries are always first.
  readonly #acceptedAt = new Map<string, number>();

  constructor(windowMs: number, maxIds: number, clock: Clock) {
    this.#windowMs = windowMs;
    this.#maxIds = maxIds;
    this.#clock = clock;
  }

  get size(): number {
    return this.#acceptedAt.size;
  }

  has(id: string): boolean {
    if (this.#windowMs <= 0) return false;
    this.#expire(this.#clock.now());
    return this.#acceptedAt.has(id);
  }

  add(id: string): void {
    if (this.#windowMs <= 0) return;
    const now = this.#clock.now();
    this.#acceptedAt.set(id, now);
    this.#expire(now);
  }

  delete(id: string): void {
    this.#acceptedAt.delete(id);
  }

  #expire(now: number): void {
    for (const [id, at] of this.#acceptedAt) {
      if (this.#acceptedAt.size <= this.#maxIds && now - at < this.#windowMs) break;
      this.#acceptedAt.delete(id);
    }
  }
}
