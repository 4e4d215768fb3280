import { statusText } from '../core/status.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import type { Clock } from '../core/clock.ts';
import { type Sink } from '../core/sink.ts';
import type { Delivery, Payload } from './delivery.ts';
import { type Format } from './format/format.ts';
import { redactUrl } from '../core/redact.ts';
import type { EndpointListener } from './listener.ts';
import type { Signer } from './signing.ts';
import { BODY_KEPT, type RawAttempt } from '../history/attempts.ts';
import { DeliveryError, FormatError, SinkClosedError } from '../core/errors.ts';

/**
 * Retry-After as milliseconds from `nowMs`: delay-seconds or an HTTP-date (RFC 9110).
 * Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

// Headers that belong to the transport; a configured value would corrupt the request.
const TRANSPORT_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
]);

/** Headers the relay writes itself when signing; a configured value would break the signature. */
export const SIGNING_HEADERS = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature']);

export function requestHeaders(
  url: URL,
  configured: Readonly<Record<string, readonly string[]>>,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'user-agent': 'registry-relay' };
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  for (const [name, values] of Object.entries(configured)) {
    const key = name.toLowerCase();
    if (TRANSPORT_HEADERS.has(key) || values.length === 0) continue;
    headers[key] = values.length === 1 ? (values[0] ?? '') : [...values];
  }
  return headers;
}

/**
 * POSTs one delivery per call over the endpoint's keep-alive dispatcher (a Pool, or a
 * proxy agent). One call is one attempt, bounded as a whole by `timeoutMs`: it resolves on
 * 2xx and throws DeliveryError otherwise. The body is rendered in the endpoint's format on
 * the first attempt and reused; with signing, each attempt is signed with its own
 * timestamp under the delivery's stable id. Redirects are never followed: the registry's
 * client turned a 302 into a body-less GET and lost the event, so a 3xx here is a failure
 * to retry.
 *
 * It speaks undici's dispatch interface directly rather than `request()`: no AbortSignal,
 * response stream or header object per attempt, which the profile showed as a third of the
 * delivery cost. The answer's body is read and discarded as it arrives (its start is kept
 * for the error message of a non-2xx), so a receiver cannot make the relay buffer it.
 */
export class HttpSink implements Sink<Delivery> {
  readonly #endpoint: string;
  readonly #dispatcher: Dispatcher;
  /** For an agent (proxies), which picks the pool by origin; a Pool knows its own. */
  readonly #origin: string | undefined;
  /** The configured headers plus the last content headers seen, joined once. */
  #joined: { content: readonly string[]; all: string[] } | undefined;
  readonly #path: string;
  /** The endpoint URL, to resolve a redirect's Location against. */
  readonly #url: URL;
  readonly #headers: string[];
  readonly #timeoutMs: number;
  readonly #listener: EndpointListener;
  readonly #format: Format;
  readonly #signer: Signer | undefined;
  readonly #clock: Clock;
  readonly #inFlight = new Set<Attempt>();
  /** The attempts log, when it is on: every attempt with its request and answer. */
  readonly #record: ((raw: RawAttempt) => void) | undefined;
  #destroyed = false;

  constructor(opts: {
    endpoint: string;
    url: string;
    headers: Readonly<Record<string, readonly string[]>>;
    timeoutMs: number;
    listener: EndpointListener;
    dispatcher: Dispatcher;
    format: Format;
    signer?: Signer | undefined;
    clock: Clock;
    record?: ((raw: RawAttempt) => void) | undefined;
  }) {
    const url = new URL(opts.url);
    this.#url = url;
    this.#endpoint = opts.endpoint;
    this.#origin = opts.dispatcher instanceof Pool ? undefined : url.origin;
    this.#path = `${url.pathname}${url.search}`;
    this.#headers = Object.entries(requestHeaders(url, opts.headers)).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).flatMap((v) => [name, v]),
    );
    this.#timeoutMs = opts.timeoutMs;
    this.#listener = opts.listener;
    this.#dispatcher = opts.dispatcher;
    this.#format = opts.format;
    this.#signer = opts.signer;
    this.#clock = opts.clock;
    this.#record = opts.record;
  }

  #render(delivery: Delivery): Payload {
    if (delivery.payload !== undefined) return delivery.payload;
    try {
      delivery.payload = this.#format.render(delivery.events);
    } catch (err) {
      if (err instanceof FormatError) throw err;
      throw new FormatError(
        `${this.#endpoint}: cannot render delivery ${delivery.id}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return delivery.payload;
  }

  // A format returns the same content headers for every request (a shared array), so the
  // joined list is made once rather than per request.
  #withContent(content: readonly string[]): string[] {
    if (this.#joined?.content !== content) {
      this.#joined = { content, all: [...this.#headers, ...content] };
    }
    return this.#joined.all;
  }

  /**
   * An attempt that could not be made (the OAuth2 token could not be had): reported and
   * logged as a failed attempt with `code`, and returned to be thrown.
   */
  failedBeforeRequest(delivery: Delivery, code: string, message: string): DeliveryError {
    const failed = new DeliveryError(this.#endpoint, 'RELAY_AUTH', message, { causeCode: code });
    this.#listener.onAttempt({ kind: 'error', code, durationMs: 0, message });
    this.#record?.({
      at: this.#clock.now(),
      durationMs: 0,
      deliveryId: delivery.id,
      events: delivery.events,
      headers: [],
      body: delivery.payload?.body ?? '',
      code,
      message,
    });
    return failed;
  }

  /** One attempt; `extraHeaders` (flat pairs) are this attempt's own (an OAuth2 token). */
  async write(delivery: Delivery, extraHeaders?: readonly string[]): Promise<void> {
    if (this.#destroyed) throw new SinkClosedError(this.#endpoint);
    const payload = this.#render(delivery);
    let headers = this.#withContent(payload.headers);
    if (extraHeaders !== undefined) headers = [...headers, ...extraHeaders];
    const trace = delivery.trace;
    if (trace !== undefined) {
      headers =
        trace.tracestate === undefined
          ? [...headers, 'traceparent', trace.traceparent]
          : [...headers, 'traceparent', trace.traceparent, 'tracestate', trace.tracestate];
    }
    if (this.#signer !== undefined) {
      const timestamp = Math.floor(this.#clock.now() / 1000);
      headers = [...headers, ...this.#signer.headers(delivery.id, timestamp, payload.body)];
    }
    const started = this.#clock.now();
    const startedAt = this.#record === undefined ? 0 : this.#clock.now();
    const attempt = new Attempt(this.#timeoutMs, this.#record !== undefined);
    this.#inFlight.add(attempt);
    let answer: Answer;
    try {
      this.#dispatcher.dispatch(
        {
          ...(this.#origin === undefined ? {} : { origin: this.#origin }),
          method: 'POST',
          path: this.#path,
          headers,
          body: payload.body,
        },
        attempt,
      );
      answer = await attempt.done;
    } catch (err) {
      if (this.#isDestroyed()) throw new SinkClosedError(this.#endpoint);
      const durationMs = this.#clock.now() - started;
      const causeCode = attempt.timedOut ? 'TIMEOUT' : errorCode(err);
      const failed = attempt.timedOut
        ? new DeliveryError(
            this.#endpoint,
            'RELAY_TIMEOUT',
            `no complete answer within ${this.#timeoutMs}ms`,
            { causeCode, cause: err },
          )
        : new DeliveryError(this.#endpoint, 'RELAY_CONNECTION', `request failed: ${causeCode}`, {
            causeCode,
            cause: err,
          });
      this.#listener.onAttempt({
        kind: 'error',
        code: causeCode,
        durationMs,
        message: failed.message,
      });
      this.#record?.({
        at: startedAt,
        durationMs,
        deliveryId: delivery.id,
        events: delivery.events,
        headers,
        body: payload.body,
        code: causeCode,
        message: failed.message,
      });
      throw failed;
    } finally {
      attempt.settled();
      this.#inFlight.delete(attempt);
    }
    const { status } = answer;
    delivery.status = status;
    const durationMs = this.#clock.now() - started;
    if (status >= 200 && status < 300) {
      this.#listener.onAttempt({ kind: 'success', status, durationMs });
      if (this.#record !== undefined) {
        this.#record(answered(startedAt, durationMs, delivery, headers, payload, answer));
      }
      return;
    }
    const said = answer.body === '' ? '' : `: ${answer.body}`;
    const failed =
      status >= 300 && status < 400
        ? new DeliveryError(
            this.#endpoint,
            'RELAY_HTTP_REDIRECT',
            `answered ${statusText(status)}: redirects are not followed, fix the endpoint url`,
            { status, location: redirectTarget(this.#url, answer.location) },
          )
        : new DeliveryError(
            this.#endpoint,
            'RELAY_HTTP_STATUS',
            `answered ${statusText(status)}${said}`,
            { status, retryAfterMs: parseRetryAfter(answer.retryAfter, this.#clock.now()) },
          );
    this.#listener.onAttempt({ kind: 'failure', status, durationMs, message: failed.message });
    if (this.#record !== undefined) {
      this.#record(
        answered(startedAt, durationMs, delivery, headers, payload, answer, failed.message),
      );
    }
    throw failed;
  }

  // A method, not the field: the flag changes while a request is awaited.
  #isDestroyed(): boolean {
    return this.#destroyed;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const attempt of this.#inFlight) attempt.abort(new SinkClosedError(this.#endpoint));
    this.#dispatcher.destroy().catch(() => undefined);
  }
}

/** An answered attempt as the attempts log takes it. */
function answered(
  at: number,
  durationMs: number,
  delivery: Delivery,
  headers: readonly string[],
  payload: Payload,
  answer: Answer,
  message?: string,
): RawAttempt {
  return {
    at,
    durationMs,
    deliveryId: delivery.id,
    events: delivery.events,
    headers,
    body: payload.body,
    answer: {
      status: answer.status,
      headers: answer.headers ?? {},
      bodySize: answer.bodySize,
      body: answer.kept ?? '',
    },
    message,
  };
}

/** What an attempt learnt from a complete answer. */
interface Answer {
  readonly status: number;
  /** Location of a 3xx. */
  readonly location: string | undefined;
  /** Retry-After of a 429 or 503. */
  readonly retryAfter: string | undefined;
  /** The start of a non-2xx answer's body, one line, for the error message. */
  readonly body: string;
  /** Recording attempts: the answer's headers, its size, and its first 4 KiB as sent. */
  readonly headers?: IncomingHttpHeaders | undefined;
  readonly bodySize: number;
  readonly kept?: string | undefined;
}

const BODY_EXCERPT = 200;

/**
 * One request's undici handler: settles `done` with the Answer once the whole answer has
 * been read, or with the error; a timer aborts it after `timeoutMs`, from connecting to
 * the last byte of the answer.
 */
class Attempt implements Dispatcher.DispatchHandler {
  readonly done: Promise<Answer>;
  timedOut = false;
  #resolve!: (answer: Answer) => void;
  #reject!: (err: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: Error | undefined;
  #status = 0;
  #location: string | undefined;
  #retryAfter: string | undefined;
  /**
   * The start of the answer's body, when something reads it: the error message of a
   * non-2xx (its first BODY_EXCERPT bytes), and the attempts log (BODY_KEPT bytes).
   */
  #start: Buffer[] | undefined;
  #startLength = 0;
  #startLimit = 0;
  /** Recording for the attempts log: the answer's headers and its whole size too. */
  readonly #capture: boolean;
  #headers: IncomingHttpHeaders | undefined;
  #size = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number, capture = false) {
    this.#capture = capture;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.abort(new Error(`timed out after ${String(timeoutMs)}ms`));
    }, timeoutMs);
  }

  /** Ends the attempt with `reason`, now if it is on a connection, else once it gets one. */
  abort(reason: Error): void {
    this.#abortReason ??= reason;
    this.#reject(reason);
    this.#controller?.abort(reason);
  }

  settled(): void {
    clearTimeout(this.#timer);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.#status = statusCode;
    if (statusCode >= 300 && statusCode < 400) {
      const location = headers['location'];
      this.#location = Array.isArray(location) ? location.join(', ') : location;
    }
    if (statusCode === 429 || statusCode === 503) {
      // Typed as a string, but a repeated header arrives as an array.
      const retryAfter: unknown = headers['retry-after'];
      this.#retryAfter = Array.isArray(retryAfter) ? String(retryAfter[0]) : headers['retry-after'];
    }
    const failed = statusCode < 200 || statusCode >= 300;
    this.#startLimit = this.#capture ? BODY_KEPT : failed ? BODY_EXCERPT : 0;
    if (this.#startLimit > 0) this.#start = [];
    if (this.#capture) this.#headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Unless recorded, a 2xx answer's content is not used; reading it frees the connection.
    this.#size += chunk.length;
    if (this.#start !== undefined && this.#startLength < this.#startLimit) {
      this.#start.push(chunk.subarray(0, this.#startLimit - this.#startLength));
      this.#startLength += chunk.length;
    }
  }

  onResponseEnd(): void {
    const start = this.#start === undefined ? undefined : Buffer.concat(this.#start);
    const failed = this.#status < 200 || this.#status >= 300;
    const excerpt =
      failed && start !== undefined ? start.subarray(0, BODY_EXCERPT).toString('utf8') : '';
    this.#resolve({
      status: this.#status,
      location: this.#location,
      retryAfter: this.#retryAfter,
      body: excerpt.replace(/\s+/g, ' ').trim(),
      headers: this.#headers,
      bodySize: this.#size,
      kept:
        this.#capture && start !== undefined
          ? start.toString('utf8').replace(/\uFFFD$/, '')
          : undefined,
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#reject(error);
  }
}

function errorCode(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const { code, cause } = err as { code?: unknown; cause?: unknown };
    // undici wraps socket-level failures; the errno code (ECONNREFUSED…) is on the cause.
    if (cause !== null && typeof cause === 'object') {
      const inner = (cause as { code?: unknown }).code;
      if (typeof inner === 'string') return inner;
    }
    if (typeof code === 'string') return code;
  }
  return 'UNKNOWN';
}

/** Where a redirect pointed, redacted like the endpoint URL (it may carry the same secret). */
function redirectTarget(base: URL, location: string | undefined): string {
  if (location === undefined || location === '') return '';
  try {
    return redactUrl(new URL(location, base).toString());
  } catch {
    return redactUrl(location);
  }
}
