import { redactUrl } from '../core/redact.ts';
import { AttemptQueryError } from '../core/errors.ts';

/** How one attempt ended: 2xx, another status, or no answer at all. */
export type AttemptResult = 'success' | 'failure' | 'error';

/** The most of a request's or an answer's body the log keeps. */
export const BODY_KEPT = 4096;

/** Shown in place of every header value the log must not show. */
export const REDACTED = '<redacted>';

/**
 * Headers whose values say nothing secret and are shown as they are; every other value
 * (configured headers, Authorization from URL credentials, signatures, a receiver's
 * cookies) is `<redacted>`. The signature is an HMAC of the body, not the secret, but a
 * receiver's logs are no place to compare it against either.
 */
const SHOWN_REQUEST = new Set([
  'user-agent',
  'content-type',
  'content-length',
  'webhook-id',
  'webhook-timestamp',
]);
const HIDDEN_RESPONSE = new Set([
  'set-cookie',
  'authorization',
  'proxy-authenticate',
  'www-authenticate',
]);

export interface LoggedRequest {
  readonly method: string;
  /** The endpoint URL as the relay shows it everywhere: scheme, host, port, fingerprint. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodySize: number;
  /** The first 4 KiB of the body (absent from a read without a token). */
  readonly body?: string | undefined;
}

export interface LoggedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodySize: number;
  readonly body?: string | undefined;
}

/** One attempt as the log keeps it. */
export interface AttemptEntry {
  readonly endpoint: string;
  /** The relay that made it (its instance id). */
  readonly relay: string;
  /** Epoch ms when the request started. */
  readonly at: number;
  readonly durationMs: number;
  readonly deliveryId: string;
  readonly eventIds: readonly string[];
  readonly result: AttemptResult;
  readonly request: LoggedRequest;
  /** The answer; absent when there was none (code says why). */
  readonly response?: LoggedResponse | undefined;
  /** No answer: TIMEOUT, ECONNREFUSED… */
  readonly code?: string | undefined;
  /** What the log line said of a failed attempt. */
  readonly message?: string | undefined;
}

/** An entry with its place in the log: higher is newer; `before` pages by it. */
export interface AttemptRecord extends AttemptEntry {
  readonly seq: number;
}

/** `status` of the attempts route: a result, `failed` (failure or error), or one status code. */
export type AttemptStatusFilter = AttemptResult | 'failed' | number;

export interface AttemptQuery {
  readonly limit: number;
  /** Only attempts older than this seq. */
  readonly before?: number | undefined;
  readonly status?: AttemptStatusFilter | undefined;
}

/** Reads the `status` query parameter, or throws naming what it accepts. */
export function parseStatusFilter(text: string | undefined): AttemptStatusFilter | undefined {
  if (text === undefined || text === '') return undefined;
  if (text === 'success' || text === 'failure' || text === 'error' || text === 'failed') {
    return text;
  }
  if (/^[1-5][0-9][0-9]$/.test(text)) return Number(text);
  throw new AttemptQueryError(
    `status "${text}": expected success, failure, error, failed or an HTTP status such as 500`,
  );
}

export function matchesStatus(
  record: {
    readonly result: AttemptResult;
    readonly response?: { readonly status: number } | undefined;
  },
  filter: AttemptStatusFilter | undefined,
): boolean {
  if (filter === undefined) return true;
  if (typeof filter === 'number') return record.response?.status === filter;
  if (filter === 'failed') return record.result !== 'success';
  return record.result === filter;
}

/**
 * Where attempts are kept: memory (per endpoint, the newest `keep`), or a durable backend
 * (the journal's table, a JetStream stream) bounded by count per endpoint and age.
 */
export interface AttemptStore {
  add(entry: AttemptEntry): void;
  /** The endpoint's attempts, newest first. */
  list(endpoint: string, query: AttemptQuery): Promise<readonly AttemptRecord[]>;
  /** Attempts that carried the event, newest first (any endpoint). */
  forEvent(eventId: string): Promise<readonly AttemptRecord[]>;
  /** Retention: drops what is past its bounds (called about once a second). */
  prune?(now: number): void;
}

/** An attempt as memory keeps it: what the sink saw, redacted only when it is read. */
interface KeptAttempt {
  readonly seq: number;
  readonly endpoint: string;
  readonly url: string;
  readonly raw: RawAttempt;
}

/**
 * The newest `keep` attempts of each endpoint, in memory. It keeps what the sink saw
 * (references to the delivery's events and body, the answer's first 4 KiB) and turns it
 * into a redacted entry only when read: recording costs one small object per attempt.
 */
export class MemoryAttempts {
  readonly #keep: number;
  readonly #relay: string;
  readonly #byEndpoint = new Map<string, KeptAttempt[]>();
  #seq = 0;

  constructor(keep: number, relay: string) {
    this.#keep = keep;
    this.#relay = relay;
  }

  add(endpoint: string, url: string, raw: RawAttempt): void {
    let list = this.#byEndpoint.get(endpoint);
    if (list === undefined) {
      list = [];
      this.#byEndpoint.set(endpoint, list);
    }
    this.#seq += 1;
    list.push({ seq: this.#seq, endpoint, url, raw });
    // Trimmed in steps, not per entry: one splice per `keep / 4` attempts.
    if (list.length > this.#keep + Math.max(1, this.#keep >> 2)) {
      list.splice(0, list.length - this.#keep);
    }
  }

  #entry(k: KeptAttempt): AttemptRecord {
    return { ...logEntry(k.endpoint, this.#relay, k.url, k.raw), seq: k.seq };
  }

  list(endpoint: string, query: AttemptQuery): Promise<readonly AttemptRecord[]> {
    const list = this.#byEndpoint.get(endpoint) ?? [];
    const out: AttemptRecord[] = [];
    const floor = Math.max(0, list.length - this.#keep);
    for (let i = list.length - 1; i >= floor && out.length < query.limit; i--) {
      const k = list[i];
      if (k === undefined) continue;
      if (query.before !== undefined && k.seq >= query.before) continue;
      const r = this.#entry(k);
      if (matchesStatus(r, query.status)) out.push(r);
    }
    return Promise.resolve(out);
  }

  forEvent(eventId: string): Promise<readonly AttemptRecord[]> {
    const out: AttemptRecord[] = [];
    for (const list of this.#byEndpoint.values()) {
      for (const k of list) {
        if (k.raw.events.some((e) => e.id === eventId)) out.push(this.#entry(k));
      }
    }
    return Promise.resolve(out.sort((a, b) => b.seq - a.seq));
  }
}

/** What the HTTP sink knows of one attempt, before redaction. */
export interface RawAttempt {
  readonly at: number;
  readonly durationMs: number;
  readonly deliveryId: string;
  /** The delivery's events (a reference: their ids are read when the entry is). */
  readonly events: readonly { readonly id: string }[];
  /** Flat `name, value` pairs as sent. */
  readonly headers: readonly string[];
  readonly body: string;
  readonly answer?:
    | {
        readonly status: number;
        readonly headers: Readonly<Record<string, string | string[] | undefined>>;
        readonly bodySize: number;
        readonly body: string;
      }
    | undefined;
  readonly code?: string | undefined;
  readonly message?: string | undefined;
}

/** Turns what the sink saw into a log entry that shows no secret. */
export function logEntry(
  endpoint: string,
  relay: string,
  /** Already redacted (see redactUrl). */
  url: string,
  raw: RawAttempt,
): AttemptEntry {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.headers.length; i += 2) {
    const name = raw.headers[i] ?? '';
    headers[name] = SHOWN_REQUEST.has(name) ? (raw.headers[i + 1] ?? '') : REDACTED;
  }
  const size = Buffer.byteLength(raw.body);
  headers['content-length'] = String(size);
  const answer = raw.answer;
  const status = answer?.status;
  return {
    endpoint,
    relay,
    at: raw.at,
    durationMs: Math.round(raw.durationMs * 1000) / 1000,
    deliveryId: raw.deliveryId,
    eventIds: raw.events.map((e) => e.id),
    result: status === undefined ? 'error' : status >= 200 && status < 300 ? 'success' : 'failure',
    request: { method: 'POST', url, headers, bodySize: size, body: cut(raw.body) },
    ...(answer === undefined
      ? {}
      : {
          response: {
            status: answer.status,
            headers: responseHeaders(answer.headers),
            bodySize: answer.bodySize,
            body: answer.body,
          },
        }),
    ...(raw.code === undefined ? {} : { code: raw.code }),
    ...(raw.message === undefined ? {} : { message: raw.message }),
  };
}

function responseHeaders(
  raw: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name] = HIDDEN_RESPONSE.has(name)
      ? REDACTED
      : Array.isArray(value)
        ? value.join(', ')
        : value;
  }
  return out;
}

/** The first 4 KiB of a text, cut on a character boundary. */
function cut(text: string): string {
  if (text.length <= BODY_KEPT / 4) return text;
  const bytes = Buffer.from(text);
  if (bytes.length <= BODY_KEPT) return text;
  return bytes
    .subarray(0, BODY_KEPT)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** An entry without bodies or the receiver's words: what a read without a token sees. */
export function withoutBodies(r: AttemptRecord): AttemptRecord {
  const request: LoggedRequest = { ...r.request, body: undefined };
  // The message quotes the start of the receiver's answer.
  const out: AttemptRecord = { ...r, request, message: undefined };
  return r.response === undefined ? out : { ...out, response: { ...r.response, body: undefined } };
}

/** Attempts written to the durable store per housekeeping tick, at most. */
const FLUSH_PER_TICK = 2000;

/**
 * The attempts log: the newest `keep` per endpoint in memory, and with durable storage on,
 * its store too (the journal, or JetStream shared by every relay), read in preference:
 * it holds the attempts of before a restart and of the other relays. Attempts reach the
 * store once a second (and before every read and at shutdown), at most its `store` bound
 * per endpoint each time: an endpoint taking thousands of events a second writes what
 * the store would keep, not every attempt.
 */
export class AttemptLog {
  readonly #memory: MemoryAttempts;
  readonly #durable: AttemptStore | undefined;
  readonly #relay: string;
  /** Per endpoint, attempts not yet in the durable store, newest last (bounded). */
  readonly #unstored = new Map<string, { url: string; raw: RawAttempt }[]>();
  readonly #storeBound: number;

  constructor(opts: {
    keep: number;
    durable: AttemptStore | undefined;
    /** The durable store's bound per endpoint. */
    store?: number;
    relay: string;
  }) {
    this.#memory = new MemoryAttempts(opts.keep, opts.relay);
    this.#durable = opts.durable;
    this.#relay = opts.relay;
    this.#storeBound = Math.max(1, opts.store ?? opts.keep);
  }

  /** Where the endpoint's HTTP sink reports each attempt. */
  recorder(endpoint: string, url: string): (raw: RawAttempt) => void {
    const shown = redactUrl(url);
    if (this.#durable === undefined) {
      return (raw) => {
        this.#memory.add(endpoint, shown, raw);
      };
    }
    return (raw) => {
      this.#memory.add(endpoint, shown, raw);
      let list = this.#unstored.get(endpoint);
      if (list === undefined) {
        list = [];
        this.#unstored.set(endpoint, list);
      }
      list.push({ url: shown, raw });
      if (list.length > 2 * this.#storeBound) list.splice(0, list.length - this.#storeBound);
    };
  }

  /**
   * Writes what the durable store has not got yet (the newest `store` per endpoint), at
   * most `max` attempts, oldest first; the rest waits for the next call.
   */
  flush(max = Infinity): void {
    const durable = this.#durable;
    if (durable === undefined) return;
    let budget = max;
    for (const [endpoint, list] of this.#unstored) {
      if (list.length > this.#storeBound) list.splice(0, list.length - this.#storeBound);
      const now = list.splice(0, Math.min(list.length, budget));
      for (const { url, raw } of now) durable.add(logEntry(endpoint, this.#relay, url, raw));
      budget -= now.length;
      if (list.length === 0) this.#unstored.delete(endpoint);
      if (budget <= 0) return;
    }
  }

  list(endpoint: string, query: AttemptQuery): Promise<readonly AttemptRecord[]> {
    this.flush();
    return (this.#durable ?? this.#memory).list(endpoint, query);
  }

  forEvent(eventId: string): Promise<readonly AttemptRecord[]> {
    this.flush();
    return (this.#durable ?? this.#memory).forEvent(eventId);
  }

  /** Once a second: what is new goes to the store, and the store drops what is past its bounds. */
  tick(now: number): void {
    // Bounded, so that a busy second does not hold the event loop for long.
    this.flush(FLUSH_PER_TICK);
    this.#durable?.prune?.(now);
  }
}
