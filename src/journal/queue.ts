import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { BacklogQueue, type DeliveryPolicy } from '../endpoint/backlog.ts';
import type { Delivery } from '../endpoint/delivery.ts';
import { Deque } from '../endpoint/deque.ts';
import type { EndpointListener } from '../endpoint/listener.ts';
import type { GaveUpError } from '../endpoint/retry.ts';
import type { RelayEvent } from '../event.ts';
import type { Sink } from '../sink.ts';
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
export class JournalQueue extends BacklogQueue {
  readonly #journal: Journal;
  readonly #window: number;
  readonly #memory = new Deque<RelayEvent>();
  /** Highest seq in memory or already handed on; the disk reader continues after it. */
  #lastSeq = 0;
  /** The journal may hold events for this endpoint after #lastSeq that memory lacks. */
  #onDisk: boolean;
  #pendingCount: number;

  constructor(opts: {
    endpoint: string;
    journal: Journal;
    next: Sink<Delivery>;
    window: number;
    listener: EndpointListener;
    log: Logger;
    clock: Clock;
    policy?: DeliveryPolicy | undefined;
    /** Undelivered events the journal holds for this endpoint at start. */
    restored: number;
  }) {
    super(opts);
    this.#journal = opts.journal;
    this.#window = opts.window;
    this.#pendingCount = opts.restored;
    this.#onDisk = opts.restored > 0;
    if (opts.restored > 0) {
      this.listener.restorePending(opts.restored);
      this.log.info({ pending: opts.restored }, 'replaying undelivered events from the journal');
      this.resume();
    }
  }

  /** Undelivered events, on disk or in memory, those in flight included. */
  get pending(): number {
    return this.#pendingCount;
  }

  /**
   * Another process (the dead-letters CLI) may have added events for this endpoint: what
   * the journal holds beyond what this queue counted is new, and is delivered after what
   * is already pending (replayed dead letters get new seqs).
   */
  recheckDisk(): void {
    // Committed first, so that the count sees every ack and append this process made.
    this.#journal.flush();
    const added = (this.#journal.pendingCounts().get(this.endpoint) ?? 0) - this.#pendingCount;
    if (added <= 0) return;
    this.#pendingCount += added;
    this.listener.restorePending(added);
    this.#onDisk = true;
    this.resume();
  }

  protected keep(event: RelayEvent): void {
    const seq = event.seq;
    if (seq === undefined) throw new Error(`event ${event.id} reached a journal queue unjournaled`);
    this.#pendingCount += 1;
    this.listener.onQueued(event);
    if (!this.#onDisk && this.#memory.length < this.#window) {
      this.#memory.push(event);
      this.#lastSeq = seq;
    } else {
      this.#onDisk = true;
    }
  }

  protected take(): RelayEvent | undefined {
    this.#refill();
    return this.#memory.shift();
  }

  protected peek(): RelayEvent | undefined {
    this.#refill();
    return this.#memory.peek();
  }

  /** The window holds the oldest events: refill it from disk once it is half empty. */
  #refill(): void {
    if (!this.#onDisk || this.#memory.length > this.#window / 2) return;
    const room = this.#window - this.#memory.length;
    const rows = this.#journal.load(this.endpoint, this.#lastSeq, room);
    for (const row of rows) this.#memory.push(row);
    const last = rows.at(-1);
    if (last?.seq !== undefined) this.#lastSeq = last.seq;
    if (rows.length < room) this.#onDisk = false;
  }

  protected delivered(event: RelayEvent): void {
    this.#journal.ack(this.endpoint, event.seq ?? 0);
    this.#pendingCount -= 1;
  }

  protected deadLettered(event: RelayEvent, err: GaveUpError): void {
    const seq = event.seq ?? 0;
    this.#journal.deadLetter(this.endpoint, seq, err.attempts, err.lastError);
    this.#pendingCount -= 1;
    this.log.warn(
      { eventId: event.id, seq, attempts: err.attempts, lastError: err.lastError },
      `dead-lettered: ${err.message}`,
    );
  }

  /**
   * Not a delivery failure (the retrying sink never throws those): the events stay in the
   * journal, the window is reloaded from it (events other workers hold may go out twice),
   * and delivery pauses before it starts again from the journal.
   */
  protected failed(events: readonly RelayEvent[], err: unknown): void {
    const seq = events[0]?.seq ?? 0;
    this.log.error(
      { err, eventIds: events.map((e) => e.id), seq },
      'unexpected error in pipeline; the events stay in the journal',
    );
    this.#onDisk = true;
    this.#lastSeq = Math.min(this.#lastSeq, seq - 1);
    this.#memory.clear();
  }
}
