import { mkdirSync, statSync } from 'node:fs';
import { JournalTags } from './tags.ts';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NewEvent, RelayEvent } from '../core/event.ts';
import type { DeadLetterFilter, DeadLetterRecord } from '../storage/dead-letters.ts';
import { StorageUnavailableError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';

export type SyncMode = 'normal' | 'full';

/** A dead letter as the journal keeps it: the event's row number beside the record. */
export interface DeadLetter extends DeadLetterRecord {
  readonly seq: number;
}

/** One attempt of the attempts log as the journal stores it. */
export interface AttemptRow {
  readonly endpoint: string;
  readonly at: number;
  readonly result: string;
  readonly status: number | null;
  /** The event ids, each between newlines, so one can be found with instr(). */
  readonly eventIds: string;
  readonly record: string;
}

interface EventRow {
  seq: number;
  id: string;
  action: string;
  media_type: string | null;
  accepted_at: number;
  envelope: string;
  trace: string | null;
}

const FILE = 'journal.db';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  action TEXT NOT NULL,
  media_type TEXT,
  accepted_at INTEGER NOT NULL,
  envelope TEXT NOT NULL,
  trace TEXT
);
CREATE TABLE IF NOT EXISTS pending (
  endpoint TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (endpoint, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_seq ON pending (seq);
CREATE TABLE IF NOT EXISTS dead_letters (
  endpoint TEXT NOT NULL,
  seq INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT NOT NULL,
  dead_at INTEGER NOT NULL,
  PRIMARY KEY (endpoint, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dead_letters_seq ON dead_letters (seq);
CREATE TABLE IF NOT EXISTS paused (
  endpoint TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attempts (
  n INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  at INTEGER NOT NULL,
  result TEXT NOT NULL,
  status INTEGER,
  event_ids TEXT NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_endpoint ON attempts (endpoint, n);
CREATE TABLE IF NOT EXISTS accepted_ids (
  n INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  accepted_at INTEGER NOT NULL
);
`;

/** Re-send ids are pruned at most this often (and at every start). */
const PRUNE_EVERY_MS = 10_000;
/** Free pages given back to the file system per compaction step (4 MiB of 4 KiB pages). */
const VACUUM_STEP_PAGES = 1024;

/**
 * The durable journal: SQLite in WAL mode, one file under `storage.path`. An event is one
 * `events` row; each endpoint that must still deliver it has a `pending` row; an event an
 * endpoint gave up on has a `dead_letters` row instead. An event row goes when nothing
 * refers to it, so the file's used pages track what is still owed, not what ever came.
 *
 * Every accepted event id is also kept in `accepted_ids` for `http.dedup.window` (at most
 * `http.dedup.maxIds` of them), so a registry re-send that arrives after a restart is
 * still recognised.
 *
 * Freed pages are given back to the file system (incremental auto-vacuum, see `compact`):
 * a backlog that drained leaves a small file, not its peak size.
 *
 * Appends and acknowledgements made in the same event-loop turn share one transaction
 * (group commit): with `sync: full` the fsync per commit is paid once per turn, not per
 * request. better-sqlite3 is synchronous: a commit blocks the loop for its duration,
 * which `relay_journal_commit_seconds` reports.
 */
export class Journal {
  readonly path: string;
  readonly sync: SyncMode;
  readonly maxSize: number;
  readonly #db: Database.Database;
  #tags: JournalTags | undefined;
  readonly #statements;
  #appends: {
    events: readonly NewEvent[];
    targets: readonly (readonly string[])[];
    done: PendingPromise<number[]>;
  }[] = [];
  #acks: { endpoint: string; seq: number }[] = [];
  #attempts: AttemptRow[] = [];
  /**
   * The most attempts kept per endpoint. Enforced in the commit that adds them, so the
   * table never holds more, not even between two prunes or after a shutdown's flush.
   */
  #attemptsKeep = Infinity;
  #flushScheduled = false;
  #usedBytes = 0;
  #closed = false;
  /** Called with each commit's duration in seconds. */
  onCommit: (seconds: number) => void = () => undefined;
  /** Called when a commit failed; appends are refused to their callers, acks only here. */
  onError: (err: Error, lost: { appends: number; acks: number }) => void = () => undefined;

  readonly #recent: { readonly windowMs: number; readonly maxIds: number };
  readonly #clock: Clock;
  #lastPrune = 0;

  constructor(
    dir: string,
    opts: {
      sync: SyncMode;
      maxSize: number;
      /** How long, and how many, accepted ids are kept for re-send detection. */
      recentIds?: { windowMs: number; maxIds: number };
      /** When a dead letter died and a replayed event was accepted again. */
      clock?: Clock;
    },
  ) {
    this.#clock = opts.clock ?? systemClock;
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, FILE);
    this.sync = opts.sync;
    this.maxSize = opts.maxSize;
    this.#recent = opts.recentIds ?? { windowMs: 0, maxIds: 0 };
    this.#db = new Database(this.path);
    // Set before the first table exists; a file made before this setting is converted once.
    this.#db.pragma('auto_vacuum = INCREMENTAL');
    if (this.#db.pragma('auto_vacuum', { simple: true }) !== 2) this.#db.exec('VACUUM');
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    // After a checkpoint the WAL is cut back to this size instead of keeping its peak (it
    // checkpoints at 1,000 pages, about this size, unless a reader holds it back).
    this.#db.pragma('journal_size_limit = 4194304');
    this.#db.exec(SCHEMA);
    // A journal made before tracing existed gets the column its events' trace goes in.
    const columns = this.#db.prepare<[], { name: string }>('PRAGMA table_info(events)').all();
    if (!columns.some((c) => c.name === 'trace')) {
      this.#db.exec('ALTER TABLE events ADD COLUMN trace TEXT');
    }
    const db = this.#db;
    this.#statements = {
      insertEvent: db.prepare(
        'INSERT INTO events (id, action, media_type, accepted_at, envelope, trace) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      insertPending: db.prepare('INSERT INTO pending (endpoint, seq) VALUES (?, ?)'),
      deletePending: db.prepare('DELETE FROM pending WHERE endpoint = ? AND seq = ?'),
      deleteEventIfUnused: db.prepare(
        `DELETE FROM events WHERE seq = @seq
           AND NOT EXISTS (SELECT 1 FROM pending WHERE seq = @seq)
           AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE seq = @seq)`,
      ),
      load: db.prepare<[string, number, number], Omit<EventRow, 'action' | 'media_type'>>(
        `SELECT e.seq, e.id, e.accepted_at, e.envelope, e.trace
           FROM pending p JOIN events e ON e.seq = p.seq
          WHERE p.endpoint = ? AND p.seq > ? ORDER BY p.seq LIMIT ?`,
      ),
      deleteDead: db.prepare('DELETE FROM dead_letters WHERE endpoint = ? AND seq = ?'),
      insertDead: db.prepare(
        'INSERT OR REPLACE INTO dead_letters (endpoint, seq, attempts, error, dead_at) VALUES (?, ?, ?, ?, ?)',
      ),
      pendingCounts: db.prepare<[], { endpoint: string; n: number }>(
        'SELECT endpoint, count(*) AS n FROM pending GROUP BY endpoint',
      ),
      deadCounts: db.prepare<[], { endpoint: string; n: number }>(
        'SELECT endpoint, count(*) AS n FROM dead_letters GROUP BY endpoint',
      ),
      oldestPending: db.prepare<[], { endpoint: string; at: number }>(
        `SELECT p.endpoint AS endpoint, min(e.accepted_at) AS at
           FROM pending p JOIN events e ON e.seq = p.seq GROUP BY p.endpoint`,
      ),
      insertAccepted: db.prepare('INSERT INTO accepted_ids (id, accepted_at) VALUES (?, ?)'),
      acceptedSince: db.prepare<[number, number], { id: string; accepted_at: number }>(
        `SELECT id, accepted_at FROM (
           SELECT n, id, accepted_at FROM accepted_ids WHERE accepted_at > ? ORDER BY n DESC LIMIT ?
         ) ORDER BY n`,
      ),
      insertAttempt: db.prepare(
        'INSERT INTO attempts (endpoint, at, result, status, event_ids, record) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      cutAttempts: db.prepare(
        `DELETE FROM attempts WHERE endpoint = @endpoint AND n <= (
           SELECT n FROM attempts WHERE endpoint = @endpoint ORDER BY n DESC LIMIT 1 OFFSET @keep)`,
      ),
      pruneAccepted: db.prepare(
        `DELETE FROM accepted_ids WHERE accepted_at <= @before
            OR n <= (SELECT max(n) FROM accepted_ids) - @keep`,
      ),
      pageCount: db.prepare<[], { page_count: number }>('PRAGMA page_count'),
      freelist: db.prepare<[], { freelist_count: number }>('PRAGMA freelist_count'),
      pageSize: db.prepare<[], { page_size: number }>('PRAGMA page_size'),
    };
    this.#refreshSize();
  }

  /** Bytes on disk: the database file and its write-ahead log. */
  get bytes(): number {
    return fileSize(this.path) + fileSize(`${this.path}-wal`);
  }

  /** Bytes the database's live pages hold (free pages excluded), plus the WAL. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /**
   * Journals `events`, each with the endpoints that must deliver it (`targets[i]`).
   * Resolves once committed with each event's position (`seq`; 0 for an event no endpoint
   * wants, which is not kept); rejects with StorageUnavailableError, and nothing of this
   * call is kept, if the journal is full or the write fails.
   */
  append(events: readonly NewEvent[], targets: readonly (readonly string[])[]): Promise<number[]> {
    if (this.#closed) {
      return Promise.reject(new StorageUnavailableError('RELAY_STORAGE_WRITE', 'journal closed'));
    }
    if (this.#usedBytes >= this.maxSize) {
      return Promise.reject(
        new StorageUnavailableError(
          'RELAY_STORAGE_FULL',
          `the journal holds ${String(this.#usedBytes)} bytes, storage.maxSize is ${String(this.maxSize)}`,
        ),
      );
    }
    const done = pendingPromise<number[]>();
    this.#appends.push({ events, targets, done });
    this.#schedule();
    return done.promise;
  }

  /** The endpoint answered 2xx for event `seq`: it no longer owes it. */
  ack(endpoint: string, seq: number): void {
    this.#acks.push({ endpoint, seq });
    this.#schedule();
  }

  /** Moves event `seq` from the endpoint's backlog to its dead letters. */
  deadLetter(endpoint: string, seq: number, attempts: number, error: string): void {
    this.flush();
    this.#db.transaction(() => {
      this.#statements.insertDead.run(endpoint, seq, attempts, error, this.#clock.now());
      this.#statements.deletePending.run(endpoint, seq);
    })();
  }

  /** Up to `limit` of the endpoint's undelivered events after `afterSeq`, oldest first. */
  load(endpoint: string, afterSeq: number, limit: number): { event: RelayEvent; seq: number }[] {
    this.flush();
    return this.#statements.load.all(endpoint, afterSeq, limit).map((r) => ({
      event:
        r.trace === null
          ? { id: r.id, envelope: r.envelope, acceptedAt: r.accepted_at }
          : { id: r.id, envelope: r.envelope, acceptedAt: r.accepted_at, trace: r.trace },
      seq: r.seq,
    }));
  }

  pendingCounts(): Map<string, number> {
    return new Map(this.#statements.pendingCounts.all().map((r) => [r.endpoint, r.n]));
  }

  deadLetterCounts(): Map<string, number> {
    return new Map(this.#statements.deadCounts.all().map((r) => [r.endpoint, r.n]));
  }

  /** The table of known tags (reconciliation), made on first use. */
  tags(): JournalTags {
    this.#tags ??= new JournalTags(this.#db);
    return this.#tags;
  }

  /** Endpoints paused through the admin API: the pause outlives a restart. */
  pausedEndpoints(): string[] {
    return this.#db.prepare<[], string>('SELECT endpoint FROM paused').pluck().all();
  }

  setPaused(endpoint: string, paused: boolean): void {
    this.#db
      .prepare(
        paused
          ? 'INSERT OR IGNORE INTO paused (endpoint) VALUES (?)'
          : 'DELETE FROM paused WHERE endpoint = ?',
      )
      .run(endpoint);
  }

  /** Acceptance time (epoch ms) of each endpoint's oldest undelivered event. */
  oldestPending(): Map<string, number> {
    return new Map(this.#statements.oldestPending.all().map((r) => [r.endpoint, r.at]));
  }

  /** True when another connection (the dead-letters CLI) changed the database. */
  changedElsewhere(): boolean {
    const version = this.#db.pragma('data_version', { simple: true }) as number;
    const changed = this.#dataVersion !== undefined && version !== this.#dataVersion;
    this.#dataVersion = version;
    return changed;
  }
  #dataVersion: number | undefined;

  listDeadLetters(filter: DeadLetterFilter = {}): DeadLetter[] {
    const { where, params } = deadLetterWhere(filter);
    return this.#db
      .prepare<unknown[], DeadLetter>(
        `SELECT d.endpoint, d.seq, e.id AS eventId, e.action, d.attempts, d.error,
                e.accepted_at AS acceptedAt, d.dead_at AS deadAt
           FROM dead_letters d JOIN events e ON e.seq = d.seq ${where}
          ORDER BY d.endpoint, d.seq`,
      )
      .all(...params);
  }

  /**
   * The dead letters of one event. The events table holds only what is still owed or dead,
   * so the scan is bounded by the backlog, and it serves the admin API, not the hot path.
   */
  deadLettersOf(eventId: string): DeadLetter[] {
    return this.#db
      .prepare<[string], DeadLetter>(
        `SELECT d.endpoint, d.seq, e.id AS eventId, e.action, d.attempts, d.error,
                e.accepted_at AS acceptedAt, d.dead_at AS deadAt
           FROM dead_letters d JOIN events e ON e.seq = d.seq WHERE e.id = ?
          ORDER BY d.endpoint, d.seq`,
      )
      .all(eventId);
  }

  /**
   * Puts matching dead letters back at the end of their endpoint's backlog: each becomes
   * a new event row (a new, higher seq) pending for that endpoint alone.
   */
  replayDeadLetters(filter: DeadLetterFilter = {}): number {
    const { where, params } = deadLetterWhere(filter);
    const rows = this.#db
      .prepare<unknown[], EventRow & { endpoint: string }>(
        `SELECT d.endpoint, e.seq, e.id, e.action, e.media_type, e.accepted_at, e.envelope, e.trace
           FROM dead_letters d JOIN events e ON e.seq = d.seq ${where} ORDER BY d.seq`,
      )
      .all(...params);
    const s = this.#statements;
    this.#db.transaction(() => {
      for (const r of rows) {
        // A replay is a new acceptance: retry.maxAge counts from now, not from the first time.
        const now = this.#clock.now();
        const info = s.insertEvent.run(r.id, r.action, r.media_type, now, r.envelope, r.trace);
        s.insertPending.run(r.endpoint, Number(info.lastInsertRowid));
        s.deleteDead.run(r.endpoint, r.seq);
        s.deleteEventIfUnused.run({ seq: r.seq });
      }
    })();
    return rows.length;
  }

  /** Deletes matching dead letters for good. */
  purgeDeadLetters(filter: DeadLetterFilter = {}): number {
    const { where, params } = deadLetterWhere(filter);
    const rows = this.#db
      .prepare<unknown[], { endpoint: string; seq: number }>(
        `SELECT d.endpoint, d.seq FROM dead_letters d ${where}`,
      )
      .all(...params);
    this.#db.transaction(() => {
      for (const r of rows) {
        this.#statements.deleteDead.run(r.endpoint, r.seq);
        this.#statements.deleteEventIfUnused.run({ seq: r.seq });
      }
    })();
    return rows.length;
  }

  /** Forgets every undelivered event of `endpoint` (one no longer configured). */
  purgePending(endpoint: string): number {
    const seqs = this.#db
      .prepare<[string], { seq: number }>('SELECT seq FROM pending WHERE endpoint = ?')
      .all(endpoint);
    this.#db.transaction(() => {
      for (const { seq } of seqs) {
        this.#statements.deletePending.run(endpoint, seq);
        this.#statements.deleteEventIfUnused.run({ seq });
      }
    })();
    return seqs.length;
  }

  /** Commits what is queued now (normally done at the end of the event-loop turn). */
  flush(): void {
    this.#flushScheduled = false;
    const appends = this.#appends;
    const acks = this.#acks;
    const attempts = this.#attempts;
    if (appends.length === 0 && acks.length === 0 && attempts.length === 0) return;
    this.#appends = [];
    this.#acks = [];
    this.#attempts = [];
    const s = this.#statements;
    const started = this.#clock.now();
    const seqs = appends.map(({ events }) => new Array<number>(events.length).fill(0));
    try {
      this.#db.transaction(() => {
        const attempted = new Set<string>();
        for (const a of attempts) {
          s.insertAttempt.run(a.endpoint, a.at, a.result, a.status, a.eventIds, a.record);
          attempted.add(a.endpoint);
        }
        if (Number.isFinite(this.#attemptsKeep)) {
          for (const endpoint of attempted) {
            s.cutAttempts.run({ endpoint, keep: this.#attemptsKeep });
          }
        }
        for (const { endpoint, seq } of acks) {
          s.deletePending.run(endpoint, seq);
          s.deleteEventIfUnused.run({ seq });
        }
        appends.forEach(({ events, targets }, a) => {
          events.forEach((event, i) => {
            if (this.#recent.windowMs > 0) s.insertAccepted.run(event.id, event.acceptedAt);
            const owed = targets[i] ?? [];
            // An event no endpoint wants (all filters ignore it) is not kept at all.
            if (owed.length === 0) return;
            const info = s.insertEvent.run(
              event.id,
              event.action,
              event.mediaType ?? null,
              event.acceptedAt,
              event.envelope,
              event.trace ?? null,
            );
            const seq = Number(info.lastInsertRowid);
            const positions = seqs[a];
            if (positions !== undefined) positions[i] = seq;
            for (const endpoint of owed) s.insertPending.run(endpoint, seq);
          });
        });
      })();
    } catch (err) {
      // Acks are only an optimisation of the next start: re-delivery is the fallback.
      const failure = new StorageUnavailableError(
        'RELAY_STORAGE_WRITE',
        `journal write failed: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
      for (const { done } of appends) done.reject(failure);
      this.onError(failure, { appends: appends.length, acks: acks.length });
      return;
    } finally {
      this.onCommit((this.#clock.now() - started) / 1000);
    }
    this.#refreshSize();
    appends.forEach(({ done }, a) => {
      done.resolve(seqs[a] ?? []);
    });
  }

  /** The endpoints that still owe the event (a scan: for the admin API, not the hot path). */
  pendingFor(eventId: string): string[] {
    this.flush();
    return this.#db
      .prepare<[string], string>(
        'SELECT p.endpoint FROM pending p JOIN events e ON e.seq = p.seq WHERE e.id = ?',
      )
      .pluck()
      .all(eventId);
  }

  /** Keeps one attempt of the attempts log; committed with the turn's other writes. */
  recordAttempt(row: AttemptRow): void {
    if (this.#closed) return;
    this.#attempts.push(row);
    this.#schedule();
  }

  /** The endpoint's attempts, newest first (`record` is the entry as JSON). */
  listAttempts(
    endpoint: string,
    q: { limit: number; before?: number | undefined; result?: string[]; status?: number },
  ): { n: number; record: string }[] {
    this.flush();
    const clauses = ['endpoint = ?'];
    const params: unknown[] = [endpoint];
    if (q.before !== undefined) {
      clauses.push('n < ?');
      params.push(q.before);
    }
    if (q.result !== undefined) {
      clauses.push(`result IN (${q.result.map(() => '?').join(', ')})`);
      params.push(...q.result);
    }
    if (q.status !== undefined) {
      clauses.push('status = ?');
      params.push(q.status);
    }
    return this.#db
      .prepare<unknown[], { n: number; record: string }>(
        `SELECT n, record FROM attempts WHERE ${clauses.join(' AND ')} ORDER BY n DESC LIMIT ?`,
      )
      .all(...params, q.limit);
  }

  /** Attempts that carried the event, newest first. */
  attemptsForEvent(eventId: string): { n: number; record: string }[] {
    this.flush();
    return this.#db
      .prepare<[string], { n: number; record: string }>(
        `SELECT n, record FROM attempts WHERE instr(event_ids, ?) > 0 ORDER BY n DESC LIMIT 100`,
      )
      .all(`\n${eventId}\n`);
  }

  /** The newest `keep` attempts per endpoint stay; every commit cuts back to it. */
  keepAttempts(keep: number): void {
    this.#attemptsKeep = keep;
    this.flush();
    const endpoints = this.#db
      .prepare<[], string>('SELECT DISTINCT endpoint FROM attempts')
      .pluck()
      .all();
    this.#db.transaction(() => {
      for (const endpoint of endpoints) this.#statements.cutAttempts.run({ endpoint, keep });
    })();
  }

  /** Retention of the attempts log by age: none older than `before` (epoch ms). */
  pruneAttempts(before: number): void {
    this.flush();
    this.#db.prepare('DELETE FROM attempts WHERE at < ?').run(before);
  }

  /**
   * Ids accepted within the re-send window before `now` (epoch ms), oldest first, at most
   * `maxIds`: what ingest must still recognise after a restart.
   */
  recentIds(now: number): { id: string; acceptedAt: number }[] {
    const { windowMs, maxIds } = this.#recent;
    if (windowMs <= 0) return [];
    return this.#statements.acceptedSince
      .all(now - windowMs, maxIds)
      .map((r) => ({ id: r.id, acceptedAt: r.accepted_at }));
  }

  /**
   * Housekeeping, called about once a second: forgets accepted ids past the re-send window
   * (every ten seconds), and gives free pages back to the file system, a step at a time so
   * the event loop is never held long. Once nothing is left to free, the write-ahead log
   * is truncated too. Returns true while there is more to give back.
   */
  compact(now: number): boolean {
    if (this.#closed) return false;
    this.flush();
    const s = this.#statements;
    if (this.#recent.windowMs > 0 && now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now;
      s.pruneAccepted.run({ before: now - this.#recent.windowMs, keep: this.#recent.maxIds });
    }
    const free = s.freelist.get()?.freelist_count ?? 0;
    if (free === 0) return false;
    this.#db.pragma(`incremental_vacuum(${String(VACUUM_STEP_PAGES)})`);
    const more = free > VACUUM_STEP_PAGES;
    // The WAL keeps its peak size after a checkpoint up to journal_size_limit; cut it
    // once the database itself is compact.
    if (!more) this.#db.pragma('wal_checkpoint(TRUNCATE)');
    this.#refreshSize();
    return more;
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#db.close();
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      if (!this.#closed) this.flush();
    });
  }

  #refreshSize(): void {
    const s = this.#statements;
    const pageSize = s.pageSize.get()?.page_size ?? 4096;
    const live = (s.pageCount.get()?.page_count ?? 0) - (s.freelist.get()?.freelist_count ?? 0);
    this.#usedBytes = live * pageSize + fileSize(`${this.path}-wal`);
  }
}

function deadLetterWhere(filter: DeadLetterFilter): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.endpoint !== undefined) {
    clauses.push('d.endpoint = ?');
    params.push(filter.endpoint);
  }
  if (filter.since !== undefined) {
    clauses.push('d.dead_at >= ?');
    params.push(filter.since);
  }
  return { where: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, params };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

interface PendingPromise<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

function pendingPromise<T>(): PendingPromise<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
