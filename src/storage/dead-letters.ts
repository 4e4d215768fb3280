import { UnknownEndpointError } from '../core/errors.ts';

/** One dead letter as the `dead-letters` command and the admin API show it, whatever the backend. */
export interface DeadLetterRecord {
  readonly endpoint: string;
  readonly eventId: string;
  readonly action: string;
  readonly attempts: number;
  readonly error: string;
  /** Epoch ms. */
  readonly acceptedAt: number;
  readonly deadAt: number;
}

export interface DeadLetterFilter {
  readonly endpoint?: string | undefined;
  /** Epoch ms: only dead letters that died at or after it. */
  readonly since?: number | undefined;
}

/**
 * Where a durable backend keeps the events it gave up on, for the `dead-letters` command:
 * list, put back at the end of their endpoint's backlog, or delete for good.
 */
export interface DeadLetterStore {
  /** Endpoints with undelivered events or dead letters in the backend. */
  endpoints(): Promise<ReadonlySet<string>>;
  list(filter: DeadLetterFilter): Promise<readonly DeadLetterRecord[]>;
  /** The dead letters of one event, on any endpoint. */
  forEvent(eventId: string): Promise<readonly DeadLetterRecord[]>;
  /** A replay is a new acceptance: `retry.maxAge` counts from now. */
  replay(filter: DeadLetterFilter): Promise<number>;
  purge(filter: DeadLetterFilter): Promise<number>;
  close(): Promise<void>;
}

/** A dead letter as the command prints it and the API answers it: dates as dates. */
export function shownDeadLetter(d: DeadLetterRecord, withError: boolean) {
  return {
    endpoint: d.endpoint,
    eventId: d.eventId,
    action: d.action,
    attempts: d.attempts,
    ...(withError ? { error: d.error } : {}),
    acceptedAt: new Date(d.acceptedAt).toISOString(),
    deadAt: new Date(d.deadAt).toISOString(),
  };
}

/**
 * The dead letters as the `dead-letters` command and the admin API both work on them: the
 * same checks (an endpoint that names nothing is a mistake, not an empty answer) over the
 * backend's store.
 */
export class DeadLetters {
  readonly store: DeadLetterStore;
  /** The endpoints configured now. */
  readonly #configured: () => Iterable<string>;

  constructor(store: DeadLetterStore, configured: () => Iterable<string>) {
    this.store = store;
    this.#configured = configured;
  }

  /** Throws UnknownEndpointError when `filter.endpoint` is neither configured nor stored. */
  async check(filter: DeadLetterFilter): Promise<DeadLetterFilter> {
    const name = filter.endpoint;
    if (name === undefined) return filter;
    const known = new Set([...this.#configured(), ...(await this.store.endpoints())]);
    if (!known.has(name)) throw new UnknownEndpointError(name, [...known]);
    return filter;
  }

  async list(filter: DeadLetterFilter): Promise<readonly DeadLetterRecord[]> {
    return this.store.list(await this.check(filter));
  }

  async replay(filter: DeadLetterFilter): Promise<number> {
    return this.store.replay(await this.check(filter));
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    return this.store.purge(await this.check(filter));
  }
}
