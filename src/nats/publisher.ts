import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';

/** One message to store in JetStream. */
export interface Publish {
  readonly subject: string;
  readonly data: string;
  readonly headers: MsgHdrs;
}

interface Waiting {
  left: number;
  /** The reply subjects' numbers of the group's messages. */
  readonly numbers: number[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** What JetStream answers a publish with (the PubAck), as far as the relay reads it. */
interface PubAck {
  readonly stream?: string;
  readonly seq?: number;
  readonly duplicate?: boolean;
  readonly error?: { readonly code?: number; readonly description?: string };
}

/**
 * Stores messages in JetStream without waiting for each acknowledgement in turn: a group of
 * publishes goes out at once (one socket write), each with a reply subject under one inbox
 * this publisher subscribed to once, and the group resolves when the server acknowledged
 * every one of them, or rejects at the first refusal or after `timeoutMs`. It replaces one
 * client request per message (a subscription entry, a timer, a promise and an Error each);
 * what the server guarantees is the same: a message is stored once acknowledged, and a
 * `Nats-Msg-Id` seen within the duplicate window is acknowledged as a duplicate, not stored.
 */
export class JetStreamPublisher {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #waiting = new Map<number, Waiting>();
  /** Which group each reply subject's number belongs to. */
  readonly #groupOf = new Map<number, number>();
  #next = 0;
  #groups = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#prefix = `${createInbox()}.`;
    nc.subscribe(`${this.#prefix}*`, {
      callback: (err, msg) => {
        if (err === null) this.#answer(msg);
      },
    });
  }

  /** Resolves once JetStream acknowledged every message of `group`. */
  publish(group: readonly Publish[], timeoutMs: number): Promise<void> {
    if (group.length === 0) return Promise.resolve();
    const id = ++this.#groups;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(
          id,
          new Error(`no acknowledgement from JetStream within ${String(timeoutMs)}ms`),
        );
      }, timeoutMs);
      const numbers: number[] = [];
      this.#waiting.set(id, { left: group.length, numbers, resolve, reject, timer });
      try {
        for (const p of group) {
          const n = ++this.#next;
          numbers.push(n);
          this.#groupOf.set(n, id);
          this.#nc.publish(p.subject, p.data, {
            headers: p.headers,
            reply: `${this.#prefix}${String(n)}`,
          });
        }
      } catch (err) {
        this.#fail(id, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  #answer(msg: Msg): void {
    const n = Number(msg.subject.slice(this.#prefix.length));
    const id = this.#groupOf.get(n);
    if (id === undefined) return;
    this.#groupOf.delete(n);
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    const refused = refusal(msg);
    if (refused !== undefined) {
      this.#fail(id, refused);
      return;
    }
    waiting.left -= 1;
    if (waiting.left > 0) return;
    clearTimeout(waiting.timer);
    this.#waiting.delete(id);
    waiting.resolve();
  }

  #fail(id: number, err: Error): void {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    clearTimeout(waiting.timer);
    this.#waiting.delete(id);
    // The group's other answers, if they come, find no group and are dropped.
    for (const n of waiting.numbers) this.#groupOf.delete(n);
    waiting.reject(err);
  }
}

/** The server's refusal in an answer, if it is one. */
function refusal(msg: Msg): Error | undefined {
  const h = msg.headers;
  // No stream listens on the subject (the server answers for the missing subscriber).
  if (h?.hasError === true && msg.data.length === 0) {
    return new Error(
      h.code === 503
        ? 'no JetStream stream takes the subject'
        : `${String(h.code)} ${h.description}`,
    );
  }
  let ack: PubAck;
  try {
    ack = msg.json<PubAck>();
  } catch {
    return new Error(
      `JetStream answered a publish with something that is not JSON: ${msg.string().slice(0, 200)}`,
    );
  }
  if (ack.error !== undefined) {
    return new Error(ack.error.description ?? `JetStream error ${String(ack.error.code)}`);
  }
  if (typeof ack.seq !== 'number') {
    return new Error(
      `JetStream answered a publish without a sequence: ${msg.string().slice(0, 200)}`,
    );
  }
  return undefined;
}
