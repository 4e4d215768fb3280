import type { Logger } from 'pino';
import { Deque } from '../endpoint/deque.ts';
import type { EndpointListener } from '../endpoint/listener.ts';
import { GaveUpError } from '../endpoint/retry.ts';
import type { RelayEvent } from '../event.ts';
import { RESOLVED, SinkClosedError, type Sink } from '../sink.ts';
import type { Journal } from './journal.ts';

/**
 * An endpoint's backlog in journal mode. The journal holds every undelivered event; memory
 * holds a window of at most `window` of the oldest, read from disk as it drains. So a dead
 * endpoint with a million pending events costs a window of memory, and order is the
 * journal's order (seq) across restarts. Nothing is ever dropped: an event leaves only
 * when the endpoint answered 2xx (ack) or the retry limits dead-lettered it.
 *
 * `write` receives journaled events (with `seq`): they join the window while the disk
 * holds nothing older that is not in memory, otherwise the disk reader will reach them.
 */
export class JournalQueue implements Sink {
  readonly #endpoint: string;
  readonly #journal: Journal;
  readonly #next: Sink;
  readonly #window: number;
  readonly #listener: EndpointListener;
  readonly #log: Logger;
  readonly #memory = new Deque<RelayEvent>();
  /** Highest seq in memory or already handed on; the disk reader continues after it. */
  #lastSeq = 0;
  /** The journal may hold events for this endpoint after #lastSeq that memory lacks. */
  #onDisk: boolean;
  #inFlight: RelayEvent | undefined;
  #pumping = false;
  #closed = false;
  #destroyed = false;
  #idle: (() => void)[] = [];
  #pendingCount: number;

  constructor(opts: {
    endpoint: string;
    journal: Journal;
    next: Sink;
    window: number;
    listener: EndpointListener;
    log: Logger;
    /** Undelivered events the journal holds for this endpoint at start. */
    restored: number;
  }) {
    this.#endpoint = opts.endpoint;
    this.#journal = opts.journal;
    this.#next = opts.next;
    this.#window = opts.window;
    this.#listener = opts.listener;
    this.#log = opts.log;
    this.#pendingCount = opts.restored;
    this.#onDisk = opts.restored > 0;
    if (opts.restored > 0) {
      this.#listener.restorePending(opts.restored);
      this.#log.info({ pending: opts.restored }, 'replaying undelivered events from the journal');
      void this.#pump();
    }
  }

  /** Undelivered events, on disk or in memory, the one in flight included. */
  get pending(): number {
    return this.#pendingCount;
  }

  /** Events held in memory now (the window). */
  get inMemory(): number {
    return this.#memory.length + (this.#inFlight === undefined ? 0 : 1);
  }

  /** Acceptance time of the oldest undelivered event: the window holds the oldest. */
  oldestAcceptedAt(): number | undefined {
    return (this.#inFlight ?? this.#memory.peek())?.acceptedAt;
  }

  write(event: RelayEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new SinkClosedError(this.#endpoint));
    const seq = event.seq;
    if (seq === undefined) throw new Error(`event ${event.id} reached a journal queue unjournaled`);
    this.#pendingCount += 1;
    this.#listener.onQueued(event);
    if (!this.#onDisk && this.#memory.length < this.#window) {
      this.#memory.push(event);
      this.#lastSeq = seq;
    } else {
      this.#onDisk = true;
    }
    if (!this.#pumping) void this.#pump();
    return RESOLVED;
  }

  /** Another process (the dead-letters CLI) may have added events for this endpoint. */
  recheckDisk(): void {
    this.#onDisk = true;
    if (!this.#pumping) void this.#pump();
  }

  #next_(): RelayEvent | undefined {
    if (this.#onDisk && this.#memory.length <= this.#window / 2) {
      const room = this.#window - this.#memory.length;
      const rows = this.#journal.load(this.#endpoint, this.#lastSeq, room);
      for (const row of rows) this.#memory.push(row);
      const last = rows.at(-1);
      if (last?.seq !== undefined) this.#lastSeq = last.seq;
      if (rows.length < room) this.#onDisk = false;
    }
    return this.#memory.shift();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    for (let event = this.#next_(); event !== undefined; event = this.#next_()) {
      if (this.#destroyed) break;
      this.#inFlight = event;
      const seq = event.seq ?? 0;
      try {
        await this.#next.write(event);
        this.#journal.ack(this.#endpoint, seq);
        this.#pendingCount -= 1;
        this.#listener.onDelivered(event);
      } catch (err) {
        if (this.#isDestroyed()) break;
        if (err instanceof GaveUpError) {
          this.#journal.deadLetter(this.#endpoint, seq, err.attempts, err.lastError);
          this.#pendingCount -= 1;
          this.#listener.onDeadLettered(event);
          this.#log.warn(
            { eventId: event.id, seq, attempts: err.attempts, lastError: err.lastError },
            `dead-lettered: ${err.message}`,
          );
          continue;
        }
        // Not a delivery failure (the retrying sink never throws those): keep the event
        // in the journal, say so, and try it again after the rest of this pass.
        this.#log.error(
          { err, eventId: event.id, seq },
          'unexpected error in pipeline; the event stays in the journal',
        );
        this.#onDisk = true;
        this.#lastSeq = Math.min(this.#lastSeq, seq - 1);
        this.#memory.clear();
        break;
      } finally {
        this.#inFlight = undefined;
      }
    }
    this.#pumping = false;
    if (this.#pendingCount === 0 || this.#destroyed) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  // A method, not the field: the flag changes while a delivery is awaited.
  #isDestroyed(): boolean {
    return this.#destroyed;
  }

  onIdle(): Promise<void> {
    if (this.#pendingCount === 0) return RESOLVED;
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.onIdle();
    await this.#next.close();
  }

  /** Stops at once; what is undelivered stays in the journal for the next start. */
  destroy(): void {
    this.#closed = true;
    this.#destroyed = true;
    this.#next.destroy();
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
