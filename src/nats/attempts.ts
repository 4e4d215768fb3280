import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  matchesStatus,
  type AttemptEntry,
  type AttemptQuery,
  type AttemptRecord,
  type AttemptResult,
  type AttemptStore,
} from '../history/attempts.ts';
import { ensureStream, readAll } from './streams.ts';
import { endpointToken } from './subjects.ts';

const RESULT = 'Relay-Attempt-Result';
const STATUS = 'Relay-Attempt-Status';
const EVENTS = 'Relay-Event-Ids';

/** What a headers-only read tells of one stored attempt. */
interface Heading {
  readonly seq: number;
  readonly result: AttemptResult;
  readonly status: number | undefined;
  readonly eventIds: readonly string[];
}

/**
 * The attempts log of every relay on the JetStream, in `<stream>-attempts`: one subject per
 * endpoint, the server keeping the newest `keep` per subject and nothing older than
 * `maxAgeMs`. An attempt is published without waiting for an acknowledgement (the log is
 * a record, not a delivery). A page is found by reading headers only (result, status,
 * event ids), then fetching the bodies of the page's attempts alone.
 */
export class NatsAttempts implements AttemptStore {
  readonly #nc: NatsConnection;
  readonly #name: string;
  readonly #log: Logger;
  readonly #ready: Promise<void>;
  #failed = false;

  constructor(
    nc: NatsConnection,
    stream: string,
    bounds: { keep: number; maxAgeMs: number; replicas: number },
    log: Logger,
  ) {
    this.#nc = nc;
    this.#name = `${stream}-attempts`;
    this.#log = log;
    this.#ready = jetstreamManager(nc)
      .then((jsm) =>
        ensureStream(jsm, {
          name: this.#name,
          subjects: [`${this.#name}.ep.*`],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          num_replicas: bounds.replicas,
          max_age: nanos(bounds.maxAgeMs),
          max_msgs_per_subject: bounds.keep,
        }),
      )
      .catch((err: unknown) => {
        this.#failed = true;
        this.#log.error({ err, stream: this.#name }, 'cannot set up the attempts log stream');
      });
  }

  add(entry: AttemptEntry): void {
    const h = headers();
    h.set(RESULT, entry.result);
    if (entry.response !== undefined) h.set(STATUS, String(entry.response.status));
    h.set(EVENTS, entry.eventIds.join(' '));
    const publish = () => {
      if (this.#failed || this.#nc.isClosed()) return;
      this.#nc.publish(`${this.#name}.ep.${endpointToken(entry.endpoint)}`, JSON.stringify(entry), {
        headers: h,
      });
    };
    void this.#ready.then(publish);
  }

  async #headings(subject: string): Promise<Heading[]> {
    await this.#ready;
    if (this.#failed) return [];
    const js = jetstream(this.#nc);
    const consumer = await js.consumers.get(this.#name, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.All,
      headers_only: true,
    });
    const out: Heading[] = [];
    await readAll(consumer, (msg) => {
      const status = msg.headers?.get(STATUS);
      out.push({
        seq: msg.info.streamSequence,
        result: (msg.headers?.get(RESULT) ?? 'error') as AttemptResult,
        status: status === undefined || status === '' ? undefined : Number(status),
        eventIds: (msg.headers?.get(EVENTS) ?? '').split(' '),
      });
    });
    return out;
  }

  async #bodies(seqs: readonly number[]): Promise<AttemptRecord[]> {
    const jsm = await jetstreamManager(this.#nc);
    const out: AttemptRecord[] = [];
    for (const seq of seqs) {
      const m = await jsm.streams.getMessage(this.#name, { seq }).catch(() => null);
      if (m !== null) out.push({ ...m.json<AttemptEntry>(), seq: m.seq });
    }
    return out;
  }

  async list(endpoint: string, query: AttemptQuery): Promise<readonly AttemptRecord[]> {
    const all = await this.#headings(`${this.#name}.ep.${endpointToken(endpoint)}`);
    const page = all
      .filter((h) => query.before === undefined || h.seq < query.before)
      .filter((h) =>
        matchesStatus(
          { result: h.result, response: h.status === undefined ? undefined : { status: h.status } },
          query.status,
        ),
      )
      .sort((a, b) => b.seq - a.seq)
      .slice(0, query.limit);
    return this.#bodies(page.map((h) => h.seq));
  }

  async forEvent(eventId: string): Promise<readonly AttemptRecord[]> {
    const all = await this.#headings(`${this.#name}.ep.*`);
    const hits = all
      .filter((h) => h.eventIds.includes(eventId))
      .sort((a, b) => b.seq - a.seq)
      .slice(0, 100);
    return this.#bodies(hits.map((h) => h.seq));
  }
}
