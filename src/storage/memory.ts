import type { Logger } from 'pino';
import type { NewEvent, RelayEvent } from '../core/event.ts';
import { Ring } from '../core/ring.ts';
import {
  type Backlog,
  type BacklogObserver,
  type BacklogOptions,
  type DeadLetterReason,
  type Storage,
} from './storage.ts';
import { StorageUnavailableError } from '../core/errors.ts';

/**
 * Backlogs in memory (no `storage.path`), as the registry keeps them: nothing survives the
 * process. Each endpoint's backlog is bounded (`queue.maxPending`): when full, the oldest
 * waiting event is dropped, counted and logged, so a dead endpoint costs bounded memory
 * and a stale event gives way to the newest.
 */
export class MemoryStorage implements Storage {
  readonly durable = false;
  readonly #backlogs = new Map<string, MemoryBacklog>();
  #closed = false;

  append(events: readonly NewEvent[], targets: readonly (readonly string[])[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new StorageUnavailableError('RELAY_STORAGE_WRITE', 'storage closed'));
    }
    let touched: MemoryBacklog[] | undefined;
    events.forEach((event, i) => {
      for (const name of targets[i] ?? []) {
        const backlog = this.#backlogs.get(name);
        if (backlog === undefined) continue;
        backlog.add(event);
        if (touched === undefined) touched = [backlog];
        else if (!touched.includes(backlog)) touched.push(backlog);
      }
    });
    for (const backlog of touched ?? []) backlog.onAvailable?.();
    return RESOLVED;
  }

  backlog(endpoint: string, options: BacklogOptions): MemoryBacklog {
    let backlog = this.#backlogs.get(endpoint);
    if (backlog === undefined) {
      backlog = new MemoryBacklog(endpoint, options);
      this.#backlogs.set(endpoint, backlog);
    } else {
      backlog.configure(options);
    }
    return backlog;
  }

  forget(endpoint: string): void {
    this.#backlogs.delete(endpoint);
  }

  pendingCounts(): ReadonlyMap<string, number> {
    return new Map([...this.#backlogs].map(([name, b]) => [name, b.pending]));
  }

  recentIds(): readonly { id: string; acceptedAt: number }[] {
    return [];
  }

  tick(): void {
    // Nothing to keep tidy in memory.
  }

  ready(): boolean {
    return true;
  }

  registerMetrics(): void {
    // Memory has no series of its own: the backlogs' are the relay's.
  }

  close(): void {
    this.#closed = true;
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Waiting events kept as columns: a pending event costs its id, its envelope and three
 * slots (its time unboxed), not an object and a heap number besides. Event objects are
 * made when a delivery leases them.
 */
class EventColumns {
  readonly #ids = new Ring<string>();
  readonly #envelopes = new Ring<string>();
  readonly #acceptedAt = Ring.ofNumbers();
  /** Made when the first event with a trace comes (tracing on), gone when all left. */
  #traces: Ring<string | undefined> | undefined;

  get length(): number {
    return this.#ids.length;
  }

  push(event: RelayEvent): void {
    this.#ids.push(event.id);
    this.#envelopes.push(event.envelope);
    this.#acceptedAt.push(event.acceptedAt);
    if (event.trace !== undefined || this.#traces !== undefined) {
      this.#tracesFor(1).push(event.trace);
    }
  }

  unshift(events: readonly RelayEvent[]): void {
    this.#ids.unshift(events.map((e) => e.id));
    this.#envelopes.unshift(events.map((e) => e.envelope));
    this.#acceptedAt.unshift(events.map((e) => e.acceptedAt));
    if (this.#traces !== undefined || events.some((e) => e.trace !== undefined)) {
      this.#tracesFor(events.length).unshift(events.map((e) => e.trace));
    }
  }

  /** The traces column, made (none for the events already there) when it is missing. */
  #tracesFor(added: number): Ring<string | undefined> {
    if (this.#traces === undefined) {
      this.#traces = new Ring();
      for (let i = this.length - added; i > 0; i--) this.#traces.push(undefined);
    }
    return this.#traces;
  }

  peek(): RelayEvent | undefined {
    const id = this.#ids.peek();
    if (id === undefined) return undefined;
    const event = {
      id,
      envelope: this.#envelopes.peek() ?? '',
      acceptedAt: this.#acceptedAt.peek() ?? 0,
    };
    const trace = this.#traces?.peek();
    return trace === undefined ? event : { ...event, trace };
  }

  shift(): RelayEvent | undefined {
    const id = this.#ids.shift();
    if (id === undefined) return undefined;
    const event = {
      id,
      envelope: this.#envelopes.shift() ?? '',
      acceptedAt: this.#acceptedAt.shift() ?? 0,
    };
    const traces = this.#traces;
    if (traces === undefined) return event;
    const trace = traces.shift();
    if (traces.length === 0) this.#traces = undefined;
    return trace === undefined ? event : { ...event, trace };
  }
}

export class MemoryBacklog implements Backlog {
  readonly #endpoint: string;
  readonly #waiting = new EventColumns();
  #leased = 0;
  #maxPending: number;
  #observer: BacklogObserver;
  #log: Logger;
  onAvailable: (() => void) | undefined;

  constructor(endpoint: string, options: BacklogOptions) {
    this.#endpoint = endpoint;
    this.#maxPending = options.maxPending;
    this.#observer = options.observer;
    this.#log = options.log;
  }

  /** A rebuilt pipeline's options apply from now on. */
  configure(options: BacklogOptions): void {
    this.#maxPending = options.maxPending;
    // A new observer (an endpoint that returned) starts from what is pending here.
    if (options.observer !== this.#observer && this.pending > 0) {
      options.observer.restorePending(this.pending);
    }
    this.#observer = options.observer;
    this.#log = options.log;
  }

  get pending(): number {
    return this.#waiting.length + this.#leased;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  add(event: RelayEvent): void {
    if (this.#waiting.length >= this.#maxPending) {
      const oldest = this.#waiting.shift();
      if (oldest !== undefined) {
        this.#observer.onDropped(oldest);
        this.#log.warn(
          { eventId: oldest.id, maxPending: this.#maxPending },
          'queue full: dropped the oldest pending event',
        );
      }
    }
    this.#waiting.push(event);
    this.#observer.onQueued(event);
  }

  peek(): RelayEvent | undefined {
    return this.#waiting.peek();
  }

  lease(max: number): RelayEvent[] {
    const out: RelayEvent[] = [];
    while (out.length < max) {
      const event = this.#waiting.shift();
      if (event === undefined) break;
      out.push(event);
    }
    this.#leased += out.length;
    return out;
  }

  ack(events: readonly RelayEvent[]): void {
    this.#leased -= events.length;
  }

  retryLater(events: readonly RelayEvent[]): void {
    this.#leased -= events.length;
    this.#waiting.unshift(events);
    if (events.length > 0) this.onAvailable?.();
  }

  deadLetter(events: readonly RelayEvent[], reason: DeadLetterReason): void {
    this.#leased -= events.length;
    // Memory mode has no dead-letter table: this line is the dead letter.
    for (const event of events) {
      this.#log.error(
        {
          endpoint: this.#endpoint,
          eventId: event.id,
          attempts: reason.attempts,
          lastError: reason.error,
        },
        `dead-lettered: ${reason.message} (no storage.path: the event is not kept)`,
      );
    }
  }
}
