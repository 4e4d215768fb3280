import type { DeadLetterStore } from '../storage/dead-letters.ts';
import type { Journal } from './journal.ts';

/**
 * The journal's dead letters behind the same seam as JetStream's. `changed` runs after a
 * replay or purge made here (the CLI's own process, or the running relay's admin API), so
 * the relay's backlogs read the journal again.
 */
export function journalDeadLetters(
  journal: Journal,
  opts: { changed?: () => void; close?: boolean } = {},
): DeadLetterStore {
  const changed = <T>(result: T): Promise<T> => {
    opts.changed?.();
    return Promise.resolve(result);
  };
  return {
    endpoints: () =>
      Promise.resolve(
        new Set([...journal.pendingCounts().keys(), ...journal.deadLetterCounts().keys()]),
      ),
    list: (filter) => Promise.resolve(journal.listDeadLetters(filter)),
    forEvent: (eventId) => Promise.resolve(journal.deadLettersOf(eventId)),
    replay: (filter) => changed(journal.replayDeadLetters(filter)),
    purge: (filter) => changed(journal.purgeDeadLetters(filter)),
    close: () => {
      if (opts.close !== false) journal.close();
      return Promise.resolve();
    },
  };
}
