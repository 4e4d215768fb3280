/** One dead letter as the `dead-letters` command and the admin API show it, whatever the backend. */
export interface DeadLetterRecord {
  readonly endpoint: string;
  readonly eventId: string;
  readonly action: string;
  readonly attempts: number;
  readonly error: string;
  /** Epoch ms. */
  readonly acceptedAt: number;
  readonly deadAt: number;
}

export interface DeadLetterFilter {
  readonly endpoint?: string | undefined;
  /** Epoch ms: only dead letters that died at or after it. */
  readonly since?: number | undefined;
}

/**
 * Where a durable backend keeps the events it gave up on, for the `dead-letters` command:
 * list, put back at the end of their endpoint's backlog, or delete for good.
 */
export interface DeadLetterStore {
  /** Endpoints with undelivered events or dead letters in the backend. */
  endpoints(): Promise<ReadonlySet<string>>;
  list(filter: DeadLetterFilter): Promise<readonly DeadLetterRecord[]>;
  /** A replay is a new acceptance: `retry.maxAge` counts from now. */
  replay(filter: DeadLetterFilter): Promise<number>;
  purge(filter: DeadLetterFilter): Promise<number>;
  close(): Promise<void>;
}
