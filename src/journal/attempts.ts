import type {
  AttemptEntry,
  AttemptQuery,
  AttemptRecord,
  AttemptStore,
} from '../history/attempts.ts';
import type { Journal } from './journal.ts';

/** How often the journal's attempts log drops what is past `maxAgeMs`. */
const PRUNE_EVERY_MS = 10_000;

/**
 * The attempts log in the journal's `attempts` table: written with the turn's other
 * writes (one transaction), which also cuts each endpoint back to its newest `keep`; what
 * is older than `maxAgeMs` goes every 10 s.
 */
export class JournalAttempts implements AttemptStore {
  readonly #journal: Journal;
  readonly #maxAgeMs: number;
  #lastPrune = 0;

  constructor(journal: Journal, keep: number, maxAgeMs: number) {
    this.#journal = journal;
    this.#maxAgeMs = maxAgeMs;
    journal.keepAttempts(keep);
  }

  add(entry: AttemptEntry): void {
    this.#journal.recordAttempt({
      endpoint: entry.endpoint,
      at: entry.at,
      result: entry.result,
      status: entry.response?.status ?? null,
      eventIds: `\n${entry.eventIds.join('\n')}\n`,
      record: JSON.stringify(entry),
    });
  }

  list(endpoint: string, query: AttemptQuery): Promise<readonly AttemptRecord[]> {
    const { status } = query;
    const rows = this.#journal.listAttempts(endpoint, {
      limit: query.limit,
      before: query.before,
      ...(typeof status === 'number'
        ? { status }
        : status === 'failed'
          ? { result: ['failure', 'error'] }
          : status === undefined
            ? {}
            : { result: [status] }),
    });
    return Promise.resolve(rows.map(parse));
  }

  forEvent(eventId: string): Promise<readonly AttemptRecord[]> {
    return Promise.resolve(this.#journal.attemptsForEvent(eventId).map(parse));
  }

  prune(now: number): void {
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    this.#journal.pruneAttempts(now - this.#maxAgeMs);
  }
}

function parse(row: { n: number; record: string }): AttemptRecord {
  return { ...(JSON.parse(row.record) as AttemptEntry), seq: row.n };
}
