import type { FactsWanted, ImageFacts, ImageFactsSource } from '../core/image.ts';
import type { RelayEvent } from '../core/event.ts';
import { RESOLVED, type Sink } from '../core/sink.ts';
import { Delivery } from './delivery.ts';
import { compilePattern, type MatchList } from './filter.ts';

/** The `filter` fields decided on facts read from the registry. */
export interface FactRules {
  /** `os/architecture` or `os/architecture/variant` patterns (`linux/arm64`, `linux/arm*`). */
  readonly platforms: MatchList;
  readonly artifactTypes: MatchList;
  /** Label → pattern; every one must match. */
  readonly labels: Readonly<Record<string, string>>;
  readonly signed?: boolean | undefined;
}

type Check = (facts: ImageFacts) => boolean;

function listCheck(
  list: MatchList,
  values: (f: ImageFacts) => readonly string[],
): Check | undefined {
  if (list.include.length === 0 && list.exclude.length === 0) return undefined;
  const include = list.include.map(compilePattern);
  const exclude = list.exclude.map(compilePattern);
  return (facts) => {
    const vs = values(facts);
    const any = (ms: ((v: string) => boolean)[]) => vs.some((v) => ms.some((m) => m(v)));
    return (include.length === 0 || any(include)) && !(exclude.length > 0 && any(exclude));
  };
}

/**
 * An endpoint's filter on facts, decided once the facts are known. An event that has no
 * facts at all (a blob, a delete) matches none of these fields; one whose facts could not
 * be read in time (`relay.image.unavailable`) is let through, marked, rather than lost.
 */
export class FactFilter {
  readonly #checks: Check[] = [];

  /** Throws PatternError for a pattern that does not compile. */
  constructor(rules: FactRules) {
    const platforms = listCheck(rules.platforms, (f) =>
      (f.platforms ?? []).flatMap((p) => {
        const base = `${p.os}/${p.architecture}`;
        return p.variant === undefined ? [base] : [base, `${base}/${p.variant}`];
      }),
    );
    if (platforms !== undefined) this.#checks.push(platforms);
    const types = listCheck(rules.artifactTypes, (f) =>
      f.artifactType === undefined ? [] : [f.artifactType],
    );
    if (types !== undefined) this.#checks.push(types);
    for (const [label, pattern] of Object.entries(rules.labels)) {
      const matches = compilePattern(pattern);
      this.#checks.push((f) => {
        const value = f.labels?.[label];
        return value !== undefined && matches(value);
      });
    }
    const signed = rules.signed;
    if (signed !== undefined) this.#checks.push((f) => f.signed === signed);
  }

  /** Whether it decides anything (an endpoint without fact filters skips this stage's parsing). */
  get active(): boolean {
    return this.#checks.length > 0;
  }

  accepts(facts: ImageFacts | undefined): boolean {
    if (this.#checks.length === 0) return true;
    if (facts === undefined) return false;
    if (facts.unavailable !== undefined) return true;
    return this.#checks.every((check) => check(facts));
  }
}

/**
 * The stage before retrying: each event made ready by the registries (a tag resolved to its
 * digest, the facts the endpoint asks for added, waited for up to `wanted.waitMs`), then
 * the fact filter. What the filter refuses, and a re-send found once its tag is resolved,
 * is marked skipped on the delivery, so the loop acknowledges it and counts it as
 * filtered or duplicate rather than delivered. A delivery left with no event is done.
 */
export class EnrichingSink implements Sink<Delivery> {
  readonly #next: Sink<Delivery>;
  readonly #source: ImageFactsSource;
  readonly #wanted: FactsWanted | undefined;
  readonly #filter: FactFilter;

  constructor(opts: {
    next: Sink<Delivery>;
    source: ImageFactsSource;
    wanted: FactsWanted | undefined;
    filter: FactFilter;
  }) {
    this.#next = opts.next;
    this.#source = opts.source;
    this.#wanted = opts.wanted;
    this.#filter = opts.filter;
  }

  async write(delivery: Delivery): Promise<void> {
    const prepared = await Promise.all(
      delivery.events.map((e) => this.#source.prepare(e, this.#wanted)),
    );
    const ready: RelayEvent[] = [];
    let changed = false;
    for (const [i, original] of delivery.events.entries()) {
      const p = prepared[i];
      if (p === undefined) continue;
      if (p.kind === 'duplicate') {
        delivery.skip(original, 'duplicate');
        changed = true;
      } else if (!this.#filter.accepts(p.facts)) {
        delivery.skip(original, 'filtered');
        changed = true;
      } else {
        ready.push(p.event);
        if (p.event !== original) changed = true;
      }
    }
    if (ready.length === 0) return RESOLVED;
    return this.#next.write(changed ? new Delivery(ready) : delivery);
  }

  close(): Promise<void> {
    return this.#next.close();
  }

  destroy(): void {
    this.#next.destroy();
  }
}
