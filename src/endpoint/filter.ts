import picomatch from 'picomatch';
import type { EventFacts } from '../core/event.ts';
import { PatternError } from '../core/errors.ts';
import { isEventKind } from '../core/kinds.ts';

export interface IgnoreRules {
  /** The registry's `ignoredmediatypes` and `ignore.mediatypes`, merged. */
  readonly mediaTypes: readonly string[];
  readonly actions: readonly string[];
}

/** One field's patterns: the event needs a match in `include` (if any) and none in `exclude`. */
export interface MatchList {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

/** The relay's `filter` block: one MatchList per field an event can be routed on. */
export interface FilterRules {
  readonly actions: MatchList;
  readonly mediatypes: MatchList;
  readonly repositories: MatchList;
  readonly tags: MatchList;
  readonly targets: MatchList;
  readonly sources: MatchList;
}

export const FILTER_FIELDS = [
  'actions',
  'mediatypes',
  'repositories',
  'tags',
  'targets',
  'sources',
] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

type Matcher = (value: string) => boolean;

/**
 * `/regex/` or `/regex/flags` is a regular expression (unanchored, as written); anything
 * else is a glob (picomatch: `*` stops at `/`, `**` crosses it, `{a,b}`, `[0-9]`).
 */
export function compilePattern(pattern: string): Matcher {
  const regex = /^\/(.+)\/([dgimsuvy]*)$/s.exec(pattern);
  if (regex) {
    let re: RegExp;
    try {
      // The g and y flags make test() stateful; a filter must answer the same every time.
      re = new RegExp(regex[1] ?? '', (regex[2] ?? '').replace(/[gy]/g, ''));
    } catch (err) {
      throw new PatternError(
        `not a regular expression: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return (value) => re.test(value);
  }
  if (pattern === '') throw new PatternError('an empty pattern matches nothing; remove it');
  const glob = picomatch(pattern, { dot: true });
  return (value) => glob(value);
}

/** A compiled MatchList; `undefined` when it has neither list (every event passes). */
function compileList(list: MatchList): ((values: readonly string[]) => boolean) | undefined {
  if (list.include.length === 0 && list.exclude.length === 0) return undefined;
  const include = list.include.map(compilePattern);
  const exclude = list.exclude.map(compilePattern);
  const any = (matchers: Matcher[], values: readonly string[]): boolean =>
    values.some((v) => matchers.some((m) => m(v)));
  return (values) =>
    (include.length === 0 || any(include, values)) && !(exclude.length > 0 && any(exclude, values));
}

const one = (v: string | undefined): readonly string[] => (v === undefined ? [] : [v]);

const VALUES: Record<FilterField, (facts: EventFacts) => readonly string[]> = {
  actions: (f) => [f.action],
  mediatypes: (f) => one(f.mediaType),
  repositories: (f) => one(f.repository),
  tags: (f) => f.tags ?? one(f.tag),
  targets: (f) => f.targets,
  sources: (f) => [f.source],
};

/**
 * Decides whether an event is for this endpoint. The registry's ignore rules come first
 * (exact matches; unlike registry 2.8.2, action rules apply even when no media type is
 * ignored). Then each `filter` field: OR within a list, AND across fields, exclude wins. An
 * event without the field (a blob has no tag) matches no pattern: an include list on that
 * field refuses it, an exclude list lets it through.
 *
 * The kinds beyond the registry's own actions (`scan`, `build`… see core/kinds.ts) reach
 * only a filter whose `actions.include` names them (a pattern that matches them, `*`
 * included): a config written before they existed receives exactly what it did.
 */
export class Filter {
  readonly #mediaTypes: ReadonlySet<string>;
  readonly #actions: ReadonlySet<string>;
  /** Whether `actions.include` has patterns: only then may the other kinds pass. */
  readonly #namesActions: boolean;
  readonly #checks: ((facts: EventFacts) => boolean)[] = [];

  /** Throws PatternError for a pattern that does not compile. */
  constructor(ignore: IgnoreRules, rules?: FilterRules) {
    this.#mediaTypes = new Set(ignore.mediaTypes);
    this.#actions = new Set(ignore.actions);
    this.#namesActions = (rules?.actions.include.length ?? 0) > 0;
    for (const field of FILTER_FIELDS) {
      const list = rules?.[field];
      const matches = list === undefined ? undefined : compileList(list);
      const values = VALUES[field];
      if (matches !== undefined) this.#checks.push((facts) => matches(values(facts)));
    }
  }

  accepts(facts: EventFacts): boolean {
    if (this.#actions.has(facts.action)) return false;
    if (!this.#namesActions && isEventKind(facts.action)) return false;
    if (facts.mediaType !== undefined && this.#mediaTypes.has(facts.mediaType)) return false;
    for (const check of this.#checks) if (!check(facts)) return false;
    return true;
  }
}

/**
 * An endpoint's first stage as the broadcaster runs it: its name, and whether its filter
 * takes an event (what it refuses is counted through `onFiltered`, and never kept for it).
 */
export interface Route {
  readonly name: string;
  accepts(facts: EventFacts): boolean;
}

/** The filter stage of an endpoint's chain. */
export function filterStage(name: string, filter: Filter, onFiltered: () => void): Route {
  return {
    name,
    accepts(facts) {
      if (filter.accepts(facts)) return true;
      onFiltered();
      return false;
    },
  };
}
