import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ANNOUNCE_EVERY_MS, type InstanceReport } from '../storage/storage.ts';
import { endpointOfToken, endpointToken } from './subjects.ts';
import type { Clock } from '../core/clock.ts';

/** A key-safe token for an instance id (host:pid). */
function instanceToken(id: string): string {
  return Buffer.from(id).toString('hex');
}

/**
 * What every relay on one JetStream shares besides events, in two key-value buckets:
 * `<stream>-paused` (one key per paused endpoint, watched by every relay, so a pause or
 * resume through any relay's admin API holds for all of them and for relays started
 * later) and `<stream>-relays` (each relay's latest report, expiring when it stops
 * reporting: the status page's list of instances).
 */
export class NatsControl {
  readonly #paused: KV;
  readonly #relays: KV;
  readonly #log: Logger;
  readonly #pausedNow = new Set<string>();
  #stopWatching: (() => void) | undefined;
  /** A pause or resume made through any relay (this one included). */
  onChange: ((endpoint: string, paused: boolean) => void) | undefined;

  readonly #clock: Clock;

  private constructor(paused: KV, relays: KV, log: Logger, clock: Clock) {
    this.#paused = paused;
    this.#relays = relays;
    this.#log = log;
    this.#clock = clock;
  }

  static async open(
    nc: NatsConnection,
    stream: string,
    replicas: number,
    log: Logger,
    clock: Clock,
  ): Promise<NatsControl> {
    const kvm = new Kvm(nc);
    const paused = await kvm.create(`${stream}-paused`, { replicas, history: 1 });
    const relays = await kvm.create(`${stream}-relays`, {
      replicas,
      history: 1,
      ttl: ANNOUNCE_EVERY_MS * 3,
    });
    const control = new NatsControl(paused, relays, log, clock);
    await control.#watch();
    return control;
  }

  async #watch(): Promise<void> {
    const watch = await this.#paused.watch();
    this.#stopWatching = () => {
      watch.stop();
    };
    let initial = true;
    const ready = new Promise<void>((resolve) => {
      void (async () => {
        // The watch first replays what is there, then an entry with delta 0 ends that.
        for await (const e of watch) {
          const endpoint = endpointOfToken(e.key);
          const paused = e.operation === 'PUT';
          const changed = paused ? !this.#pausedNow.has(endpoint) : this.#pausedNow.has(endpoint);
          if (paused) this.#pausedNow.add(endpoint);
          else this.#pausedNow.delete(endpoint);
          if (changed && e.isUpdate) this.onChange?.(endpoint, paused);
          if (initial && e.delta === 0) {
            initial = false;
            resolve();
          }
        }
      })().catch((err: unknown) => {
        this.#log.error({ err }, 'the watch of paused endpoints ended');
      });
    });
    const status = await this.#paused.status();
    if (status.values === 0) initial = false;
    else await ready;
  }

  /** Endpoints paused now, as the bucket says. */
  paused(): readonly string[] {
    return [...this.#pausedNow];
  }

  async setPaused(endpoint: string, paused: boolean): Promise<void> {
    const key = endpointToken(endpoint);
    if (paused) await this.#paused.put(key, JSON.stringify({ at: this.#clock.now() }));
    else await this.#paused.delete(key);
  }

  async announce(report: InstanceReport): Promise<void> {
    await this.#relays.put(instanceToken(report.id), JSON.stringify(report));
  }

  async forget(id: string): Promise<void> {
    await this.#relays.delete(instanceToken(id));
  }

  /** The relays that reported within the last three intervals, with when they did. */
  async instances(): Promise<(InstanceReport & { seenAt: number })[]> {
    const out: (InstanceReport & { seenAt: number })[] = [];
    for await (const key of await this.#relays.keys()) {
      const e = await this.#relays.get(key);
      if (e?.operation !== 'PUT') continue;
      out.push({ ...e.json<InstanceReport>(), seenAt: e.created.getTime() });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  stop(): void {
    this.#stopWatching?.();
  }
}
