import type { RelayEvent } from '../event.ts';
import { RESOLVED, type Sink } from '../sink.ts';

export interface IgnoreRules {
  /** The registry's `ignoredmediatypes` and `ignore.mediatypes`, merged. */
  readonly mediaTypes: readonly string[];
  readonly actions: readonly string[];
}

/**
 * The registry's ignore rules: an event is dropped for this endpoint when its target's
 * media type or its action is listed (exact match). Unlike registry 2.8.2, action rules
 * apply even when no media type is ignored.
 */
export class FilterSink implements Sink {
  readonly #mediaTypes: ReadonlySet<string>;
  readonly #actions: ReadonlySet<string>;
  readonly #next: Sink;

  constructor(rules: IgnoreRules, next: Sink) {
    this.#mediaTypes = new Set(rules.mediaTypes);
    this.#actions = new Set(rules.actions);
    this.#next = next;
  }

  accepts(event: RelayEvent): boolean {
    if (this.#actions.has(event.action)) return false;
    return event.mediaType === undefined || !this.#mediaTypes.has(event.mediaType);
  }

  write(event: RelayEvent): Promise<void> {
    return this.accepts(event) ? this.#next.write(event) : RESOLVED;
  }

  close(): Promise<void> {
    return this.#next.close();
  }

  destroy(): void {
    this.#next.destroy();
  }
}
