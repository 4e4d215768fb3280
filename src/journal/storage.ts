import { JournalAttempts } from './attempts.ts';
import type { Logger } from 'pino';
import type { NewEvent, RelayEvent } from '../core/event.ts';
import type {
  Backlog,
  BacklogObserver,
  BacklogOptions,
  DeadLetterReason,
  FindsPending,
  KeepsAttempts,
  KeepsDeadLetters,
  KeepsPauses,
  KeepsTags,
  NoticesOtherWriters,
  Storage,
} from '../storage/storage.ts';
import type { TagPersistence } from '../storage/tags.ts';
import type { DeadLetterStore } from '../storage/dead-letters.ts';
import { journalDeadLetters } from './dead-letters.ts';
import type { Journal } from './journal.ts';
import { Ring } from '../core/ring.ts';

/**
 * The durable storage: every accepted event is committed to the SQLite journal before
 * ingest answers, and each endpoint's backlog is a window over it. The journal's position
 * of an event (`seq`) is kept here beside the event, never on it.
 */
export class JournalStorage
  implements
    Storage,
    KeepsPauses,
    KeepsDeadLetters,
    KeepsAttempts,
    FindsPending,
    NoticesOtherWriters,
    KeepsTags
{
  readonly durable = true;
  readonly journal: Journal;
  readonly #window: number;
  readonly #backlogs = new Map<string, JournalBacklog>();
  /** The journal position of every event in memory (windows and leases). */
  readonly #seqs = new WeakMap<RelayEvent, number>();
  /** Undelivered events per endpoint found at open, handed to each backlog once. */
  readonly #restored: Map<string, number>;
  /** Told when another process (the dead-letters CLI) changed the journal. */
  #onChangedElsewhere: () => void = () => undefined;

  constructor(journal: Journal, window: number) {
    this.journal = journal;
    this.#window = window;
    this.#restored = journal.pendingCounts();
  }

  append(events: readonly NewEvent[], targets: readonly (readonly string[])[]): Promise<void> {
    return this.journal.append(events, targets).then((seqs) => {
      const touched = new Set<JournalBacklog>();
      events.forEach((event, i) => {
        const seq = seqs[i] ?? 0;
        if (seq === 0) return;
        this.#seqs.set(event, seq);
        for (const name of targets[i] ?? []) {
          const backlog = this.#backlogs.get(name);
          if (backlog === undefined) continue;
          backlog.add(event, seq);
          touched.add(backlog);
        }
      });
      for (const backlog of touched) backlog.onAvailable?.();
    });
  }

  backlog(endpoint: string, options: BacklogOptions): JournalBacklog {
    let backlog = this.#backlogs.get(endpoint);
    if (backlog === undefined) {
      const restored = this.#restored.get(endpoint) ?? 0;
      this.#restored.delete(endpoint);
      backlog = new JournalBacklog(
        endpoint,
        this.journal,
        this.#window,
        this.#seqs,
        options,
        restored,
      );
      this.#backlogs.set(endpoint, backlog);
    } else {
      backlog.configure(options);
    }
    return backlog;
  }

  forget(): void {
    // The journal keeps a removed endpoint's backlog (and its window) for its return.
  }

  pendingCounts(): ReadonlyMap<string, number> {
    return this.journal.pendingCounts();
  }

  recentIds(now: number): readonly { id: string; acceptedAt: number }[] {
    return this.journal.recentIds(now);
  }

  tick(now: number): void {
    this.journal.compact(now);
    if (!this.journal.changedElsewhere()) return;
    this.#reread();
  }

  /** Backlogs read the journal again: dead letters were replayed or purged. */
  #reread(): void {
    for (const backlog of this.#backlogs.values()) backlog.recheckDisk();
    this.#onChangedElsewhere();
  }

  ready(): boolean {
    return true;
  }

  registerMetrics(): void {
    // The journal's series are the relay's own (relay_journal_*), registered with it.
  }

  watchOtherWriters(onChange: () => void): void {
    this.#onChangedElsewhere = onChange;
  }

  tagPersistence(): TagPersistence {
    return this.journal.tags();
  }

  pausedEndpoints(): readonly string[] {
    return this.journal.pausedEndpoints();
  }

  setPaused(endpoint: string, paused: boolean): void {
    this.journal.setPaused(endpoint, paused);
  }

  pendingFor(eventId: string): readonly string[] {
    return this.journal.pendingFor(eventId);
  }

  attempts(bounds: { keep: number; maxAgeMs: number }): JournalAttempts {
    return new JournalAttempts(this.journal, bounds.keep, bounds.maxAgeMs);
  }

  deadLetters(): DeadLetterStore {
    return journalDeadLetters(this.journal, {
      changed: () => {
        this.#reread();
      },
      close: false,
    });
  }

  close(): void {
    this.journal.close();
  }
}

/**
 * One endpoint's backlog in the journal. The journal holds every undelivered event;
 * memory holds a window of at most `window` of the oldest, read from disk as it drains.
 * So a dead endpoint with a million pending events costs a window of memory, and order is
 * the journal's order (seq) across restarts. Nothing is ever dropped: an event leaves only
 * on `ack` or `deadLetter`.
 */
export class JournalBacklog implements Backlog {
  readonly #endpoint: string;
  readonly #journal: Journal;
  readonly #window: number;
  readonly #seqs: WeakMap<RelayEvent, number>;
  readonly #memory = new Ring<RelayEvent>();
  /** Highest seq in memory or already leased; the disk reader continues after it. */
  #lastSeq = 0;
  /** The journal may hold events for this endpoint after #lastSeq that memory lacks. */
  #onDisk: boolean;
  #pending: number;
  #leased = 0;
  #observer: BacklogObserver;
  #log: Logger;
  onAvailable: (() => void) | undefined;

  constructor(
    endpoint: string,
    journal: Journal,
    window: number,
    seqs: WeakMap<RelayEvent, number>,
    options: BacklogOptions,
    restored: number,
  ) {
    this.#endpoint = endpoint;
    this.#journal = journal;
    this.#window = window;
    this.#seqs = seqs;
    this.#observer = options.observer;
    this.#log = options.log;
    this.#pending = restored;
    this.#onDisk = restored > 0;
    if (restored > 0) {
      this.#observer.restorePending(restored);
      this.#log.info({ pending: restored }, 'replaying undelivered events from the journal');
    }
  }

  /** A rebuilt pipeline's observer and log apply from now on. */
  configure(options: BacklogOptions): void {
    // A new observer (an endpoint that returned) starts from what is pending here.
    if (options.observer !== this.#observer && this.#pending > 0) {
      options.observer.restorePending(this.#pending);
    }
    this.#observer = options.observer;
    this.#log = options.log;
  }

  get pending(): number {
    return this.#pending;
  }

  get waiting(): number {
    return this.#pending - this.#leased;
  }

  add(event: RelayEvent, seq: number): void {
    this.#pending += 1;
    this.#observer.onQueued(event);
    if (!this.#onDisk && this.#memory.length < this.#window) {
      this.#memory.push(event);
      this.#lastSeq = seq;
    } else {
      this.#onDisk = true;
    }
  }

  peek(): RelayEvent | undefined {
    this.#refill();
    return this.#memory.peek();
  }

  lease(max: number): RelayEvent[] {
    const out: RelayEvent[] = [];
    while (out.length < max) {
      this.#refill();
      const event = this.#memory.shift();
      if (event === undefined) break;
      out.push(event);
    }
    this.#leased += out.length;
    return out;
  }

  ack(events: readonly RelayEvent[]): void {
    for (const event of events) this.#journal.ack(this.#endpoint, this.#seq(event));
    this.#leased -= events.length;
    this.#pending -= events.length;
  }

  retryLater(events: readonly RelayEvent[]): void {
    this.#leased -= events.length;
    this.#memory.unshift(events);
    if (events.length > 0) this.onAvailable?.();
  }

  deadLetter(events: readonly RelayEvent[], reason: DeadLetterReason): void {
    for (const event of events) {
      const seq = this.#seq(event);
      this.#journal.deadLetter(this.#endpoint, seq, reason.attempts, reason.error);
      this.#log.warn(
        { eventId: event.id, seq, attempts: reason.attempts, lastError: reason.error },
        `dead-lettered: ${reason.message}`,
      );
    }
    this.#leased -= events.length;
    this.#pending -= events.length;
  }

  /**
   * Another process (the dead-letters CLI) may have added events for this endpoint: what
   * the journal holds beyond what this backlog counted is new, and goes after what is
   * already pending (replayed dead letters get new seqs).
   */
  recheckDisk(): void {
    // Committed first, so that the count sees every ack and append this process made.
    this.#journal.flush();
    const added = (this.#journal.pendingCounts().get(this.#endpoint) ?? 0) - this.#pending;
    if (added <= 0) return;
    this.#pending += added;
    this.#observer.restorePending(added);
    this.#onDisk = true;
    this.onAvailable?.();
  }

  #seq(event: RelayEvent): number {
    const seq = this.#seqs.get(event);
    if (seq === undefined) throw new Error(`event ${event.id} has no journal position`);
    return seq;
  }

  /** The window holds the oldest events: refill it from disk once it is half empty. */
  #refill(): void {
    if (!this.#onDisk || this.#memory.length > this.#window / 2) return;
    const room = this.#window - this.#memory.length;
    const rows = this.#journal.load(this.#endpoint, this.#lastSeq, room);
    for (const { event, seq } of rows) {
      this.#seqs.set(event, seq);
      this.#memory.push(event);
      this.#lastSeq = seq;
    }
    if (rows.length < room) this.#onDisk = false;
  }
}
