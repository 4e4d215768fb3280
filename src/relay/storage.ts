import type { Logger } from 'pino';
import type { RelayConfig } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { Journal } from '../journal/journal.ts';
import { JournalStorage } from '../journal/storage.ts';
import type { RelayMetrics } from '../metrics/registry.ts';
import { MemoryStorage } from '../storage/memory.ts';
import type { Storage } from '../storage/storage.ts';
import { openNatsStorage } from './open-nats.ts';

/** The backend a config chose, opened; the daemon and every command open it here. */
export interface OpenedStorage {
  readonly storage: Storage;
  /** The SQLite journal under it, when `storage.path` is set (status, purge, its gauges). */
  readonly journal: Journal | undefined;
  /** Which backend: how logs, commands and ingest's 503 codes name it. */
  readonly kind: 'memory' | 'journal' | 'nats';
}

export interface StorageDeps {
  readonly log: Logger;
  readonly clock: Clock;
  /** The running relay's metrics: the journal reports its commits there. */
  readonly metrics?: RelayMetrics | undefined;
}

/** Memory or the journal: what opens at once, without a server to reach. */
export function openLocalStorage(config: RelayConfig, deps: StorageDeps): OpenedStorage {
  const journal = openJournal(config, deps);
  if (journal === undefined) {
    return { storage: new MemoryStorage(), journal: undefined, kind: 'memory' };
  }
  return {
    storage: new JournalStorage(journal, config.storage.window),
    journal,
    kind: 'journal',
  };
}

/**
 * The backend `config.storage` names: NATS JetStream (`storage.nats`; connected, streams
 * ready, tried again until `startTimeout` unless `once`), the journal (`storage.path`), or
 * memory.
 */
export async function openStorage(
  config: RelayConfig,
  deps: StorageDeps & { readonly once?: boolean },
): Promise<OpenedStorage> {
  const nats = config.storage.nats;
  if (nats === undefined) return openLocalStorage(config, deps);
  const storage = await openNatsStorage(
    config,
    deps.once === true ? { ...nats, startTimeout: 0 } : nats,
    deps.log,
    deps.clock,
  );
  return { storage, journal: undefined, kind: 'nats' };
}

function openJournal(config: RelayConfig, deps: StorageDeps): Journal | undefined {
  const { path, sync, maxSize } = config.storage;
  if (path === undefined) return undefined;
  const journal = new Journal(path, {
    clock: deps.clock,
    sync,
    maxSize,
    recentIds: { windowMs: config.http.dedup.window / 1e6, maxIds: config.http.dedup.maxIds },
  });
  const { metrics, log } = deps;
  if (metrics !== undefined) {
    journal.onCommit = (seconds) => {
      metrics.journalCommit.observe(seconds);
    };
  }
  journal.onError = (err, lost) => {
    // Refused appends were answered 503; unrecorded acks mean re-delivery after a restart.
    log.error({ err, ...lost }, 'journal commit failed');
  };
  log.info({ path: journal.path, sync, maxSize, bytes: journal.bytes }, 'journal open');
  return journal;
}
