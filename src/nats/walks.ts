import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { LeasesWalks, WalkLease } from '../storage/storage.ts';
import type { TagKey, TagPersistence, TagRecord } from '../storage/tags.ts';

/** How long a walk lease lasts without renewal: a relay that died holds it no longer. */
export const WALK_LEASE_MS = 15_000;

const encode = (k: TagKey): string =>
  Buffer.from(`${k.registry}\u0000${k.repository}\u0000${k.tag}`).toString('base64url');
const decode = (key: string): TagKey => {
  const [registry = '', repository = '', tag = ''] = Buffer.from(key, 'base64url')
    .toString('utf8')
    .split('\u0000');
  return { registry, repository, tag };
};
const registryKey = (registry: string): string => Buffer.from(registry).toString('base64url');

/**
 * What reconciliation shares between relays on one JetStream, in three key-value buckets:
 * `<stream>-tags` (every known tag, watched by every relay, so a push accepted by one is
 * known to the relay that walks), `<stream>-walks` (one lease per registry, expiring
 * WALK_LEASE_MS after its holder last renewed it) and `<stream>-walk-progress` (how far an
 * interrupted walk got, for the relay that takes over).
 */
export class NatsWalks implements TagPersistence, LeasesWalks {
  readonly #nc: NatsConnection;
  readonly #stream: string;
  readonly #replicas: number;
  #buckets: Promise<{ tags: KV; walks: KV; progress: KV }> | undefined;
  #stopWatch: (() => void) | undefined;

  constructor(nc: NatsConnection, stream: string, replicas: number) {
    this.#nc = nc;
    this.#stream = stream;
    this.#replicas = replicas;
  }

  #open(): Promise<{ tags: KV; walks: KV; progress: KV }> {
    this.#buckets ??= (async () => {
      const kvm = new Kvm(this.#nc);
      const s = this.#stream;
      const replicas = this.#replicas;
      return {
        tags: await kvm.create(`${s}-tags`, { replicas, history: 1 }),
        walks: await kvm.create(`${s}-walks`, { replicas, history: 1, ttl: WALK_LEASE_MS }),
        progress: await kvm.create(`${s}-walk-progress`, { replicas, history: 1 }),
      };
    })();
    return this.#buckets;
  }

  async load(): Promise<TagRecord[]> {
    const { tags } = await this.#open();
    const out: TagRecord[] = [];
    for await (const key of await tags.keys()) {
      const e = await tags.get(key);
      if (e?.operation === 'PUT') out.push(e.json<TagRecord>());
    }
    return out;
  }

  async put(record: TagRecord): Promise<void> {
    const { tags } = await this.#open();
    await tags.put(encode(record), JSON.stringify(record));
  }

  async remove(registry: string, repository: string, tag: string): Promise<void> {
    const { tags } = await this.#open();
    await tags.delete(encode({ registry, repository, tag }));
  }

  watch(onChange: (key: TagKey, record: TagRecord | undefined) => void): void {
    void (async () => {
      const { tags } = await this.#open();
      const w = await tags.watch({ include: 'updates' });
      this.#stopWatch = () => {
        w.stop();
      };
      for await (const e of w) {
        onChange(decode(e.key), e.operation === 'PUT' ? e.json<TagRecord>() : undefined);
      }
    })().catch(() => undefined);
  }

  stop(): void {
    this.#stopWatch?.();
  }

  async takeWalkLease(registry: string, holder: string): Promise<WalkLease | undefined> {
    const { walks, progress } = await this.#open();
    const key = registryKey(registry);
    let revision: number;
    try {
      revision = await walks.create(key, JSON.stringify({ holder }));
    } catch {
      // Another relay holds it (the key exists and has not expired).
      return undefined;
    }
    const resumed = await progress.get(key);
    let held = true;
    return {
      resumeAfter: resumed?.operation === 'PUT' ? resumed.string() : undefined,
      renew: async () => {
        if (!held) return false;
        try {
          revision = await walks.update(key, JSON.stringify({ holder }), revision);
          return true;
        } catch {
          held = false;
          return false;
        }
      },
      progress: async (repository) => {
        if (held) await progress.put(key, repository);
      },
      release: async (complete) => {
        if (complete) await progress.delete(key);
        if (held) await walks.delete(key).catch(() => undefined);
        held = false;
      },
    };
  }
}
