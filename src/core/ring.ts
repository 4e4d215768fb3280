/** Where a ring keeps its values: a plain array, or a typed array for unboxed numbers. */
interface Slots<T> {
  [index: number]: T;
  readonly length: number;
}

const MIN_SHRINK = 1024;

/**
 * A FIFO over a circular buffer whose size is a power of two, doubled when full: O(1)
 * push, shift and put-back (amortised; it halves again once a quarter full), one slot per item and no per-item allocation. A queue of
 * 100,000 pending events for a dead endpoint cannot afford Array.prototype.shift (O(n)).
 * `Ring.ofNumbers()` keeps numbers unboxed (8 bytes each) where an array of timestamps
 * would hold a 16-byte heap number per item.
 */
export class Ring<T> {
  readonly #allocate: (size: number) => Slots<T | undefined>;
  readonly #clears: boolean;
  #slots: Slots<T | undefined>;
  #head = 0;
  #length = 0;

  constructor(allocate: (size: number) => Slots<T | undefined> = (n) => new Array<T>(n)) {
    this.#allocate = allocate;
    this.#slots = allocate(16);
    // A typed array holds no references: nothing to release on shift.
    this.#clears = Array.isArray(this.#slots);
  }

  static ofNumbers(): Ring<number> {
    return new Ring<number>((n) => new Float64Array(n));
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#length) & (this.#slots.length - 1)] = item;
    this.#length += 1;
  }

  /** Puts `items` back at the front, in their order (before what is there now). */
  unshift(items: readonly T[]): void {
    for (let i = items.length - 1; i >= 0; i--) {
      if (this.#length === this.#slots.length) this.#grow();
      this.#head = (this.#head - 1) & (this.#slots.length - 1);
      this.#slots[this.#head] = items[i];
      this.#length += 1;
    }
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#slots[this.#head];
    if (this.#clears) this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#slots.length - 1);
    this.#length -= 1;
    // A burst once grown to a million slots gives them back as it drains.
    if (this.#slots.length > MIN_SHRINK && this.#length <= this.#slots.length / 4) {
      this.#resize(this.#slots.length / 2);
    }
    return item;
  }

  #grow(): void {
    this.#resize(this.#slots.length * 2);
  }

  #resize(size: number): void {
    const old = this.#slots;
    const slots = this.#allocate(size);
    for (let i = 0; i < this.#length; i++) slots[i] = old[(this.#head + i) & (old.length - 1)];
    this.#slots = slots;
    this.#head = 0;
  }
}
