import type { Registry } from 'prom-client';
import type { TagPersistence } from './tags.ts';
import type { Logger } from 'pino';
import type { NewEvent, RelayEvent } from '../core/event.ts';
import type { AttemptStore } from '../history/attempts.ts';
import type { DeadLetterStore } from './dead-letters.ts';

/** How often a relay reports itself to the others; a report three times as old is gone. */
export const ANNOUNCE_EVERY_MS = 5_000;

/** What a relay tells the others sharing its storage about itself. */
export interface InstanceReport {
  readonly id: string;
  readonly startedAt: number;
  readonly endpoints: readonly Record<string, unknown>[];
}

/**
 * Where accepted events wait until every endpoint that wants them has them: the one seam
 * between ingest and delivery. Memory (`memory.ts`) and the SQLite journal (`sqlite.ts`)
 * implement it, and one contract test suite (test/contract/storage.test.ts) runs against
 * each. Events never carry a backend's fields: a backend keeps its own bookkeeping (a
 * journal position, a message id) beside them.
 *
 * Contract:
 * - `append` keeps each event for the endpoints named in `targets[i]` and resolves once
 *   they are kept (durable backends: committed). It rejects with StorageUnavailableError,
 *   and keeps nothing of the call, when it cannot. Only after it resolved does any backlog
 *   hand the events out.
 * - `backlog(name)` is the one backlog of that endpoint for the life of the storage: a
 *   pipeline rebuilt under the same name continues where the previous one stopped.
 */
export interface Storage {
  /** True when an accepted event survives a crash of the process. */
  readonly durable: boolean;
  /** False while the backend cannot take events (a networked one lost its server). */
  ready(): boolean;
  append(events: readonly NewEvent[], targets: readonly (readonly string[])[]): Promise<void>;
  backlog(endpoint: string, options: BacklogOptions): Backlog;
  /**
   * The endpoint is no longer configured and its backlog is empty or given up: memory
   * drops it; a durable backend keeps what it holds for when the endpoint returns.
   */
  forget(endpoint: string): void;
  /** Undelivered events per endpoint, configured or not. */
  pendingCounts(): ReadonlyMap<string, number>;
  /** Ids accepted within the re-send window before `now`, oldest first (durable backends). */
  recentIds(now: number): readonly { id: string; acceptedAt: number }[];
  /** Housekeeping, about once a second (compaction, noticing other writers). */
  tick(now: number): void;
  /** Stops; a networked backend resolves once what it owes the server is sent. */
  close(): void | Promise<void>;
  /** Adds the backend's own series to the relay's Prometheus registry (none for memory). */
  registerMetrics(register: Registry): void;
}

// What only some backends can do, each an interface of its own that a backend declares
// (`implements Storage, KeepsPauses`) and a caller asks for by type with the guard beside
// it, as Go asks `storage.(KeepsPauses)`: no optional members to probe.

/** Keeps pauses made through the admin API across a restart (the journal, NATS). */
export interface KeepsPauses {
  /** Endpoints paused before this start. */
  pausedEndpoints(): readonly string[];
  /** Keeps a pause (or its end) for after a restart, and for every relay sharing it. */
  setPaused(endpoint: string, paused: boolean): void | Promise<void>;
}

/** Shares pauses between relays (NATS): told of pauses and resumes made elsewhere. */
export interface SharesPauses extends KeepsPauses {
  watchPaused(onChange: (endpoint: string, paused: boolean) => void): void;
}

/** Relays sharing the backend tell each other about themselves (the instances list). */
export interface KnowsInstances {
  announce(report: InstanceReport): Promise<void>;
  /** Every relay that reported lately. */
  instances(): Promise<readonly (InstanceReport & { seenAt: number })[]>;
}

/** Keeps the events given up on, for the admin API and the CLI. */
export interface KeepsDeadLetters {
  deadLetters(): DeadLetterStore;
}

/** Keeps the attempts log, within these bounds per endpoint. */
export interface KeepsAttempts {
  attempts(bounds: { keep: number; maxAgeMs: number }): AttemptStore;
}

/** Can say which endpoints still owe one event, by its id (the journal). */
export interface FindsPending {
  pendingFor(eventId: string): readonly string[];
}

/** Notices what another process changed (the dead-letters CLI on the same journal). */
export interface NoticesOtherWriters {
  watchOtherWriters(onChange: () => void): void;
}

/** Keeps what the relay knows of the registries' tags (reconciliation), across restarts. */
export interface KeepsTags {
  tagPersistence(): TagPersistence;
}

/**
 * One relay at a time walks a registry: the holder renews its lease, and another relay
 * takes it once the holder stopped renewing (it died). The lease carries how far the walk
 * got, so the next holder resumes there.
 */
export interface WalkLease {
  /** The last repository a walk of this registry finished before it was interrupted. */
  readonly resumeAfter: string | undefined;
  /** Still held (false: it expired and another relay may walk now). */
  renew(): Promise<boolean>;
  /** The walk finished `repository`; a walk that takes over resumes after it. */
  progress(repository: string): Promise<void>;
  /** The walk ended: complete (the next starts from the beginning) or not. */
  release(complete: boolean): Promise<void>;
}

export interface LeasesWalks {
  /** The lease on walking `registry`, or undefined while another relay holds it. */
  takeWalkLease(registry: string, holder: string, ttlMs: number): Promise<WalkLease | undefined>;
}

function declares<T>(storage: Storage, method: keyof T & string): storage is Storage & T {
  return typeof (storage as unknown as Record<string, unknown>)[method] === 'function';
}

export const keepsPauses = (s: Storage) => declares<KeepsPauses>(s, 'setPaused');
export const sharesPauses = (s: Storage) => declares<SharesPauses>(s, 'watchPaused');
export const knowsInstances = (s: Storage) => declares<KnowsInstances>(s, 'instances');
export const keepsDeadLetters = (s: Storage) => declares<KeepsDeadLetters>(s, 'deadLetters');
export const keepsAttempts = (s: Storage) => declares<KeepsAttempts>(s, 'attempts');
export const findsPending = (s: Storage) => declares<FindsPending>(s, 'pendingFor');
export const keepsTags = (s: Storage) => declares<KeepsTags>(s, 'tagPersistence');
export const leasesWalks = (s: Storage) => declares<LeasesWalks>(s, 'takeWalkLease');
export const noticesOtherWriters = (s: Storage) =>
  declares<NoticesOtherWriters>(s, 'watchOtherWriters');

/**
 * One endpoint's undelivered events, oldest first. A delivery loop leases the oldest
 * waiting events, and settles every lease exactly once: `ack` (delivered), `retryLater`
 * (back to the front, in order), or `deadLetter`. Leased events stay pending until then.
 * With one lease at a time, events go out in acceptance order.
 */
export interface Backlog {
  /** Undelivered events, leased ones included. */
  readonly pending: number;
  /** Events waiting to be leased. */
  readonly waiting: number;
  /** The oldest event waiting to be leased, left in place. */
  peek(): RelayEvent | undefined;
  /** Leases up to `max` of the oldest waiting events; none when nothing waits. */
  lease(max: number): RelayEvent[];
  /** The endpoint answered 2xx: the events leave the backlog. */
  ack(events: readonly RelayEvent[]): void;
  /** Not delivered, not given up on (a defect, a shutdown): they wait again, first. */
  retryLater(events: readonly RelayEvent[]): void;
  /** Given up on (retry limits, unrenderable): they leave for the dead letters. */
  deadLetter(events: readonly RelayEvent[], reason: DeadLetterReason): void;
  /**
   * Called whenever events become available to lease (appended, restored, replayed by
   * another process). One listener: the endpoint's delivery loop.
   */
  onAvailable: (() => void) | undefined;
}

/**
 * A backlog shared by several relays (NATS): an attempt failed and the breaker asks for
 * `delayMs`; the events go back to the server, to be offered again after that delay to any
 * relay (nak with delay). Without it, the retrying sink waits holding the events.
 */
export interface DefersRetries {
  defer(events: readonly RelayEvent[], delayMs: number): void;
}

export function defersRetries(backlog: Backlog): backlog is Backlog & DefersRetries {
  return typeof (backlog as unknown as Record<string, unknown>)['defer'] === 'function';
}

export interface DeadLetterReason {
  readonly attempts: number;
  readonly error: string;
  /** The whole reason, for the log: "gave up after 3 attempts (retry.maxAttempts): …". */
  readonly message: string;
}

export interface BacklogOptions {
  readonly observer: BacklogObserver;
  readonly log: Logger;
  /** Memory only: the most events that wait; past it the oldest waiting one is dropped. */
  readonly maxPending: number;
  /**
   * The most events of this endpoint out at once (concurrency × batch.maxEvents). A backend
   * shared by several relays bounds it across all of them, so `concurrency: 1` keeps order.
   */
  readonly maxInFlight?: number;
}

/** What a backlog reports as events come and go (metrics implement it). */
export interface BacklogObserver {
  /** The event was accepted for this endpoint. */
  onQueued(event: RelayEvent): void;
  /** A bounded backlog was full and dropped this, its oldest waiting event. */
  onDropped(event: RelayEvent): void;
  /** Events the backlog found at start, or another process added, counted as pending. */
  restorePending(count: number): void;
}
