/**
 * A FIFO with O(1) amortised push and shift. Array.prototype.shift is O(n), which a queue
 * of 100,000 pending events for a dead endpoint cannot afford.
 */
export class Deque<T> {
  #items: (T | undefined)[] = [];
  // Invariant: items before #head are consumed (undefined) slots awaiting compaction.
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Puts `items` back at the front, in their order (before what is there now). */
  unshift(items: readonly T[]): void {
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i] as T;
      if (this.#head > 0) {
        this.#head -= 1;
        this.#items[this.#head] = item;
      } else {
        this.#items.unshift(item);
      }
    }
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
