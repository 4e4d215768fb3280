import type { Accepted, EventFacts, RelayEvent } from './event.ts';
import type { Journal } from './journal/journal.ts';
import { RESOLVED, type Sink } from './sink.ts';

/** Where the broadcaster sends: an endpoint's name, its filter and the head of its queue. */
export interface Route {
  readonly name: string;
  accepts(facts: EventFacts): boolean;
  readonly queue: Sink;
}

/**
 * Hands every event to the queue of every endpoint whose filter accepts it. Queues take
 * events synchronously, so one endpoint's state never delays another's or ingest's answer.
 * With a journal, the events and the endpoints that owe them are committed first: a
 * queue only ever sees an event that will survive a crash.
 */
export class Broadcaster {
  readonly #routes: readonly Route[];
  readonly #journal: Journal | undefined;

  constructor(routes: readonly Route[], journal?: Journal) {
    this.#routes = routes;
    this.#journal = journal;
  }

  /** Resolves once every event is in every matching queue; rejects if that failed. */
  write(accepted: readonly Accepted[]): Promise<void> {
    const events = accepted.map((a) => a.event);
    const targets = accepted.map((a) => this.#routes.filter((r) => r.accepts(a.facts)));
    if (this.#journal === undefined) return this.#handOver(events, targets);
    return this.#journal
      .append(
        events,
        targets.map((routes) => routes.map((r) => r.name)),
      )
      .then(() => this.#handOver(events, targets));
  }

  #handOver(events: readonly RelayEvent[], targets: readonly Route[][]): Promise<void> {
    // Queues answer RESOLVED when they took the event at once, the common case: only the
    // other answers are waited for.
    let waiting: Promise<void>[] | undefined;
    events.forEach((event, i) => {
      for (const route of targets[i] ?? []) {
        const taken = route.queue.write(event);
        if (taken !== RESOLVED) (waiting ??= []).push(taken);
      }
    });
    return waiting === undefined ? RESOLVED : Promise.all(waiting).then(() => undefined);
  }
}
