import type { RelayEvent } from '../event.ts';

export interface IgnoreRules {
  /** The registry's `ignoredmediatypes` and `ignore.mediatypes`, merged. */
  readonly mediaTypes: readonly string[];
  readonly actions: readonly string[];
}

/**
 * The registry's ignore rules: an event is not for this endpoint when its target's media
 * type or its action is listed (exact match). Unlike registry 2.8.2, action rules apply
 * even when no media type is ignored.
 */
export class Filter {
  readonly #mediaTypes: ReadonlySet<string>;
  readonly #actions: ReadonlySet<string>;

  constructor(rules: IgnoreRules) {
    this.#mediaTypes = new Set(rules.mediaTypes);
    this.#actions = new Set(rules.actions);
  }

  accepts(event: RelayEvent): boolean {
    if (this.#actions.has(event.action)) return false;
    return event.mediaType === undefined || !this.#mediaTypes.has(event.mediaType);
  }
}
