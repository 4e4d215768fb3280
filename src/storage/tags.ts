/**
 * What the relay knows of a registry's tags, (registry, repository, tag) → digest: updated
 * by every push and delete it accepts and by every reconciliation walk, compared with the
 * registry by the next walk. `by` says who last set it: a registry event, or a walk that
 * reported it (then a late registry event for the same thing is a duplicate). A tag a walk
 * reported deleted stays as a tombstone (`deleted`) until its late delete event comes or
 * it ages out.
 */
export interface TagRecord {
  readonly registry: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
  readonly by: 'event' | 'reconcile';
  readonly deleted: boolean;
  /** Clock ms of the change. */
  readonly at: number;
}

/** Where a backend keeps the records: the journal's table, a NATS KV bucket. */
export interface TagPersistence {
  /** Every record kept, at start. */
  load(): readonly TagRecord[] | Promise<readonly TagRecord[]>;
  put(record: TagRecord): void | Promise<void>;
  remove(registry: string, repository: string, tag: string): void | Promise<void>;
  /**
   * Records other relays change (NATS): `record` for a put, `undefined` with the key parts
   * for a removal. Backends only one relay writes have none.
   */
  watch?(onChange: (key: TagKey, record: TagRecord | undefined) => void): void;
  stop?(): void;
}

export interface TagKey {
  readonly registry: string;
  readonly repository: string;
  readonly tag: string;
}

const keyOf = (registry: string, repository: string, tag: string): string =>
  `${registry}\u0000${repository}\u0000${tag}`;

/**
 * The tag records in memory, mirrored to the backend's persistence: reads are synchronous
 * (ingest asks about each push), writes go through to the backend in order.
 */
export class TagState {
  /** Whether the backend keeps the records (memory mode: this process only). */
  readonly durable: boolean;
  readonly #records = new Map<string, TagRecord>();
  readonly #persistence: TagPersistence | undefined;
  /** Writes to the backend, in order: a later one never overtakes an earlier one. */
  #writing: Promise<void> = Promise.resolve();
  #onWriteError: (err: unknown) => void = () => undefined;

  /** Resolves once what the backend kept is loaded (at once for the journal). */
  readonly ready: Promise<void>;

  constructor(persistence: TagPersistence | undefined, onError: (err: unknown) => void) {
    this.#persistence = persistence;
    this.durable = persistence !== undefined;
    this.#onWriteError = onError;
    this.ready = (async () => {
      for (const r of (await persistence?.load()) ?? []) {
        this.#records.set(keyOf(r.registry, r.repository, r.tag), r);
      }
      persistence?.watch?.((key, record) => {
        const k = keyOf(key.registry, key.repository, key.tag);
        if (record === undefined) this.#records.delete(k);
        else this.#records.set(k, record);
      });
    })().catch((err: unknown) => {
      onError(err);
    });
  }

  get size(): number {
    return this.#records.size;
  }

  get(registry: string, repository: string, tag: string): TagRecord | undefined {
    return this.#records.get(keyOf(registry, repository, tag));
  }

  /** Every record of one registry (tombstones included). */
  of(registry: string): TagRecord[] {
    const out: TagRecord[] = [];
    for (const r of this.#records.values()) if (r.registry === registry) out.push(r);
    return out;
  }

  set(record: TagRecord): void {
    this.#records.set(keyOf(record.registry, record.repository, record.tag), record);
    const p = this.#persistence;
    if (p !== undefined) this.#write(() => p.put(record));
  }

  remove(registry: string, repository: string, tag: string): void {
    if (!this.#records.delete(keyOf(registry, repository, tag))) return;
    const p = this.#persistence;
    if (p !== undefined) this.#write(() => p.remove(registry, repository, tag));
  }

  #write(write: () => void | Promise<void>): void {
    this.#writing = this.#writing.then(write).catch((err: unknown) => {
      this.#onWriteError(err);
    });
  }

  /** Resolves once every write so far reached the backend. */
  flushed(): Promise<void> {
    return this.#writing;
  }

  stop(): void {
    this.#persistence?.stop?.();
  }
}
