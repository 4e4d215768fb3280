import type { RelayEvent } from './event.ts';
import type { Sink } from './sink.ts';

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
  async write(events: readonly RelayEvent[]): Promise<void> {
    const taken: Promise<void>[] = [];
    for (const event of events) for (const sink of this.#sinks) taken.push(sink.write(event));
    await Promise.all(taken);
  }
}
