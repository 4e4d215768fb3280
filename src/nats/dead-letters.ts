import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type {
  DeadLetterFilter,
  DeadLetterRecord,
  DeadLetterStore,
} from '../storage/dead-letters.ts';
import { readAll } from './streams.ts';
import { endpointOfToken, endpointToken, H, TRACE_HEADERS } from './subjects.ts';
import type { Clock } from '../core/clock.ts';

interface DeadMsg extends DeadLetterRecord {
  readonly seq: number;
  readonly msg: JsMsg;
}

/**
 * The dead letters of `<stream>-dead`, for the `dead-letters` command: read with an
 * ordered consumer (nothing is taken off the stream by looking), replayed by publishing
 * to the endpoint's subject again and deleting the dead letter, purged by deleting it.
 */
export class NatsDeadLetters implements DeadLetterStore {
  readonly #nc: NatsConnection;
  readonly #stream: string;
  /** When a replayed dead letter is accepted again. */
  readonly #clock: Clock;

  /** Over the storage's connection, which the storage closes. */
  constructor(nc: NatsConnection, stream: string, clock: Clock) {
    this.#nc = nc;
    this.#stream = stream;
    this.#clock = clock;
  }

  get #dead(): string {
    return `${this.#stream}-dead`;
  }

  async endpoints(): Promise<ReadonlySet<string>> {
    const jsm = await jetstreamManager(this.#nc);
    const names = new Set<string>();
    for (const stream of [this.#stream, this.#dead]) {
      const info = await jsm.streams.info(stream, { subjects_filter: '>' });
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        names.add(endpointOfToken(subject.slice(`${stream}.ep.`.length)));
      }
    }
    return names;
  }

  async #read(filter: DeadLetterFilter): Promise<DeadMsg[]> {
    const js = jetstream(this.#nc);
    const subject = `${this.#dead}.ep.${filter.endpoint === undefined ? '*' : endpointToken(filter.endpoint)}`;
    const consumer = await js.consumers.get(this.#dead, {
      // One subject as a string: a list needs nats-server 2.10.
      filter_subjects: subject,
      ...(filter.since === undefined
        ? {}
        : {
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: new Date(filter.since).toISOString(),
          }),
    });
    const out: DeadMsg[] = [];
    await readAll(consumer, (msg) => {
      out.push(record(msg, this.#dead));
    });
    return out;
  }

  async list(filter: DeadLetterFilter): Promise<readonly DeadLetterRecord[]> {
    return this.#read(filter);
  }

  async replay(filter: DeadLetterFilter): Promise<number> {
    const js = jetstream(this.#nc);
    const jsm = await jetstreamManager(this.#nc);
    const dead = await this.#read(filter);
    for (const d of dead) {
      const token = endpointToken(d.endpoint);
      const h = headers();
      h.set(H.acceptedAt, String(this.#clock.now()));
      h.set(H.eventId, d.eventId);
      h.set(H.action, d.action);
      const mediaType = d.msg.headers?.get(H.mediaType);
      if (mediaType !== undefined && mediaType !== '') h.set(H.mediaType, mediaType);
      // A replayed event stays in the trace it was accepted in.
      for (const key of TRACE_HEADERS) {
        const v = d.msg.headers?.get(key);
        if (v !== undefined && v !== '') h.set(key, v);
      }
      // A message id of its own: the event's first one may still be in the duplicate window.
      await js.publish(`${this.#stream}.ep.${token}`, d.msg.data, {
        msgID: `${token}:${d.eventId}:replay-${String(d.seq)}`,
        headers: h,
      });
      await jsm.streams.deleteMessage(this.#dead, d.seq);
    }
    return dead.length;
  }

  /** Read from the whole dead-letter stream: JetStream has no index by header. */
  async forEvent(eventId: string): Promise<readonly DeadLetterRecord[]> {
    return (await this.#read({})).filter((d) => d.eventId === eventId);
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const jsm = await jetstreamManager(this.#nc);
    const dead = await this.#read(filter);
    for (const d of dead) await jsm.streams.deleteMessage(this.#dead, d.seq);
    return dead.length;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function record(msg: JsMsg, deadStream: string): DeadMsg {
  const h = (key: string) => msg.headers?.get(key) ?? '';
  return {
    endpoint: endpointOfToken(msg.subject.slice(`${deadStream}.ep.`.length)),
    eventId: h(H.eventId),
    action: h(H.action),
    attempts: Number(h(H.attempts)) || 0,
    error: h(H.error),
    acceptedAt: Number(h(H.acceptedAt)) || 0,
    deadAt: msg.time.getTime(),
    seq: msg.info.streamSequence,
    msg,
  };
}
