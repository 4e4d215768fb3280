import { parseSince } from '../config/units.ts';
import type { RelayConfig } from '../config/schema.ts';
import { pino } from 'pino';
import { openStorage, type OpenedStorage } from '../relay/storage.ts';
import { keepsDeadLetters } from '../storage/storage.ts';
import {
  DeadLetters,
  shownDeadLetter,
  type DeadLetterFilter,
  type DeadLetterStore,
} from '../storage/dead-letters.ts';
import { journalDeadLetters } from '../journal/dead-letters.ts';
import type { Journal } from '../journal/journal.ts';
import { SinceError, UnknownEndpointError, UsageError } from '../core/errors.ts';
import { systemClock } from '../core/clock.ts';

export const JOURNAL_USAGE = `  registry-relay dead-letters list|replay|purge [--endpoint NAME] [--since WHEN] --config FILE
                                    WHEN: a duration back from now ("24h") or a date
  registry-relay journal status --config FILE
  registry-relay journal purge --endpoint NAME --config FILE
                                    drop the undelivered events of an endpoint that is no
                                    longer configured`;

/** The config's storage as the relay opens it, once (no waiting for NATS), logging nothing. */
function open(config: RelayConfig): Promise<OpenedStorage> {
  return openStorage(config, { log: pino({ level: 'silent' }), clock: systemClock, once: true });
}

async function openDeadLetters(
  config: RelayConfig,
): Promise<{ store: DeadLetterStore; close: () => Promise<void> }> {
  const { storage } = await open(config);
  if (!keepsDeadLetters(storage)) {
    await storage.close();
    throw new UsageError('the config has no storage.path: there is no journal to look at');
  }
  return { store: storage.deadLetters(), close: async () => storage.close() };
}

async function openJournal(config: RelayConfig): Promise<Journal> {
  if (config.storage.nats !== undefined) {
    throw new UsageError(
      `storage.nats: there is no journal; the events are in the stream ${config.storage.nats.stream} (nats stream info)`,
    );
  }
  const { journal } = await open(config);
  if (journal === undefined) {
    throw new UsageError('the config has no storage.path: there is no journal to look at');
  }
  return journal;
}

/**
 * The `dead-letters` and `journal` commands. They work next to running relays: the journal
 * is opened safely beside one (SQLite WAL; the relay notices changes within a second), and
 * JetStream is shared by design.
 */
export async function runJournalCommand(
  command: 'dead-letters' | 'journal',
  action: string | undefined,
  opts: { endpoint?: string | undefined; since?: string | undefined },
  config: RelayConfig,
  /** The command's output (for `list`, one JSON object per line and nothing else). */
  out: (line: string) => void,
  /** Remarks about the output, such as a count, kept off stdout so it pipes into jq. */
  note: (line: string) => void,
): Promise<void> {
  let since: number | undefined;
  try {
    since = opts.since === undefined ? undefined : parseSince(opts.since, systemClock.now());
  } catch (err) {
    if (err instanceof SinceError) throw new UsageError(`--${err.message}`);
    throw err;
  }
  const filter: DeadLetterFilter = { endpoint: opts.endpoint, since };
  if (command === 'dead-letters' && !['list', 'replay', 'purge'].includes(action ?? '')) {
    throw new UsageError(`dead-letters needs list, replay or purge, got ${String(action)}`);
  }
  if (command === 'journal' && !['status', 'purge'].includes(action ?? '')) {
    throw new UsageError(`journal needs status or purge, got ${String(action)}`);
  }
  const configured = () => config.notifications.endpoints.map((e) => e.name);
  if (command === 'dead-letters') {
    const { store, close } = await openDeadLetters(config);
    const deadLetters = new DeadLetters(store, configured);
    try {
      if (action === 'list') {
        const rows = await named(deadLetters.list(filter));
        for (const d of rows) out(JSON.stringify(shownDeadLetter(d, true)));
        note(`${String(rows.length)} dead letters`);
      } else if (action === 'replay') {
        out(`${String(await named(deadLetters.replay(filter)))} dead letters queued again`);
      } else {
        out(`${String(await named(deadLetters.purge(filter)))} dead letters purged`);
      }
    } finally {
      await close();
    }
    return;
  }
  const journal = await openJournal(config);
  try {
    await named(new DeadLetters(journalDeadLetters(journal), configured).check(filter));
    if (action === 'status') {
      const inConfig = new Set(configured());
      const pending = journal.pendingCounts();
      const dead = journal.deadLetterCounts();
      const names = new Set([...inConfig, ...pending.keys(), ...dead.keys()]);
      out(`journal ${journal.path}: ${String(journal.bytes)} bytes`);
      for (const name of names) {
        out(
          `${name}: ${String(pending.get(name) ?? 0)} pending, ${String(dead.get(name) ?? 0)} dead letters${inConfig.has(name) ? '' : ' (not configured)'}`,
        );
      }
      return;
    }
    if (opts.endpoint === undefined) throw new UsageError('journal purge needs --endpoint NAME');
    if (config.notifications.endpoints.some((e) => e.name === opts.endpoint)) {
      throw new UsageError(
        `${opts.endpoint} is configured: its events are being delivered; remove it from the config first`,
      );
    }
    out(`${String(journal.purgePending(opts.endpoint))} pending events of ${opts.endpoint} purged`);
  } finally {
    journal.close();
  }
}

/** An `--endpoint` that names nothing is a mistake of the command line. */
async function named<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof UnknownEndpointError) throw new UsageError(`--${err.message}`);
    throw err;
  }
}
