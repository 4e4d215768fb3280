import type { Logger } from 'pino';
import type { SourceConfig } from '../config/sources.ts';
import type { Clock } from '../core/clock.ts';
import type { Accepted } from '../core/event.ts';
import type { BearerTokens } from '../core/tokens.ts';
import type { IngestStats } from '../metrics/ingest-stats.ts';
import type { Tracing } from '../core/tracing.ts';
import type { RecentIds } from './recent-ids.ts';

export interface IngestDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly maxBodySize: number;
  readonly tokens: BearerTokens;
  readonly recentIds: RecentIds;
  /** Keeps accepted events for their endpoints (the relay's broadcaster). */
  readonly broadcaster: EventWriter;
  readonly stats: IngestStats;
  /** How 503 codes name the storage: `journal_full`, or `storage_unavailable` for NATS. */
  readonly storageName: 'journal' | 'storage';
  /** Counts events refused because the journal could not take them. */
  readonly journalRejected: (reason: 'full' | 'write', count: number) => void;
  /** True once shutdown began: ingest then answers 503 so the registry keeps the events. */
  readonly isShuttingDown: () => boolean;
  /** Other registries' webhooks, each on its own path (`sources`). */
  readonly sources?: readonly SourceConfig[] | undefined;
  /**
   * Whether a configured registry serves events naming `host` (or from `source`): its
   * tag-only pushes are then accepted under ids unique per request, to be resolved.
   */
  readonly registries?: { serves(host: string | undefined, source: string): boolean } | undefined;
  /** The known tags (reconciliation); undefined when no registry reconciles. */
  readonly tags?: TagWatch | undefined;
  /** Counts what each source sent: accepted, duplicate, ignored, rejected, unauthorized. */
  readonly sourceCounted?:
    ((source: SourceConfig, result: SourceResult, count: number) => void) | undefined;
  /** With tracing on: each request is an ingest span, and its events keep its context. */
  readonly tracing?: Tracing | undefined;
}

/**
 * What the relay knows of the registries' tags, as ingest consults and feeds it: a push or
 * delete reconciliation already reported is a duplicate when its late registry event
 * comes; every accepted push and delete updates it.
 */
export interface TagWatch {
  lateDuplicate(accepted: Accepted): boolean;
  observe(accepted: readonly Accepted[]): void;
}

/** Where ingest hands accepted events: resolves once they are kept, rejects if not. */
export interface EventWriter {
  write(accepted: readonly Accepted[]): Promise<void>;
}

export type SourceResult = 'accepted' | 'duplicate' | 'ignored' | 'rejected' | 'unauthorized';
