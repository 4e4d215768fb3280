import type { RelayEvent } from './event.ts';
import { RESOLVED, type Sink } from './sink.ts';

/**
 * Hands every event to every endpoint's pipeline. Pipelines take events synchronously into
 * their own queues, so one endpoint's state never delays another's or ingest's answer.
 */
export class Broadcaster {
  readonly #sinks: readonly Sink[];

  constructor(sinks: readonly Sink[]) {
    this.#sinks = sinks;
  }

  /** Resolves once every pipeline has taken every event; rejects if one refused. */
  write(events: readonly RelayEvent[]): Promise<void> {
    // Pipelines answer RESOLVED when they took the event at once, the common case: only
    // the other answers are waited for.
    let waiting: Promise<void>[] | undefined;
    for (const event of events) {
      for (const sink of this.#sinks) {
        const taken = sink.write(event);
        if (taken !== RESOLVED) (waiting ??= []).push(taken);
      }
    }
    return waiting === undefined ? RESOLVED : Promise.all(waiting).then(() => undefined);
  }
}
