import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import type { RelayEvent } from '../event.ts';
import { SinkClosedError, type Sink } from '../sink.ts';
import type { EndpointListener } from './listener.ts';

/** The registry's envelope media type (v1: what 2.8.2 sends and what receivers expect). */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export type DeliveryErrorCode =
  'RELAY_HTTP_STATUS' | 'RELAY_HTTP_REDIRECT' | 'RELAY_TIMEOUT' | 'RELAY_CONNECTION';

/** One failed attempt: an unwanted status (a failure) or no status at all (an error). */
export class DeliveryError extends Error {
  readonly code: DeliveryErrorCode;
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly location: string | undefined;
  /** The transport's own code for connection errors, e.g. ECONNREFUSED. */
  readonly causeCode: string | undefined;

  constructor(
    endpoint: string,
    code: DeliveryErrorCode,
    message: string,
    extra: { status?: number; location?: string; causeCode?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'DeliveryError';
    this.endpoint = endpoint;
    this.code = code;
    this.status = extra.status;
    this.location = extra.location;
    this.causeCode = extra.causeCode;
  }
}

/** `"200 OK"`, as Go's `resp.Status` reads and the registry's `Statuses` map is keyed. */
export function statusText(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
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
  headers['content-type'] = EVENTS_MEDIA_TYPE;
  return headers;
}

/**
 * POSTs one envelope per event over a keep-alive connection pool of its own. One call is
 * one attempt, bounded as a whole by `timeoutMs`: it resolves on 2xx and throws
 * DeliveryError otherwise. Redirects are never followed: the registry's client turned a
 * 302 into a body-less GET and lost the event, so a 3xx here is a failure to retry.
 *
 * It speaks undici's dispatch interface directly rather than `request()`: no AbortSignal,
 * response stream or header object per attempt, which the profile showed as a third of the
 * delivery cost. The answer's body is read and discarded as it arrives, so a receiver
 * cannot make the relay buffer any of it.
 */
export class HttpSink implements Sink {
  readonly #endpoint: string;
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: string[];
  readonly #timeoutMs: number;
  readonly #listener: EndpointListener;
  readonly #inFlight = new Set<Attempt>();
  #destroyed = false;

  constructor(opts: {
    endpoint: string;
    url: string;
    headers: Readonly<Record<string, readonly string[]>>;
    timeoutMs: number;
    listener: EndpointListener;
  }) {
    const url = new URL(opts.url);
    this.#endpoint = opts.endpoint;
    this.#path = `${url.pathname}${url.search}`;
    this.#headers = Object.entries(requestHeaders(url, opts.headers)).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).flatMap((v) => [name, v]),
    );
    this.#timeoutMs = opts.timeoutMs;
    this.#listener = opts.listener;
    this.#pool = new Pool(url.origin, {
      connections: 4,
      keepAliveTimeout: 30_000,
      connectTimeout: Math.min(opts.timeoutMs, 10_000),
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async write(event: RelayEvent): Promise<void> {
    if (this.#destroyed) throw new SinkClosedError(this.#endpoint);
    const started = performance.now();
    const attempt = new Attempt(this.#timeoutMs);
    this.#inFlight.add(attempt);
    let status: number;
    let location: string | undefined;
    try {
      this.#pool.dispatch(
        { method: 'POST', path: this.#path, headers: this.#headers, body: event.envelope },
        attempt,
      );
      [status, location] = await attempt.done;
    } catch (err) {
      if (this.#isDestroyed()) throw new SinkClosedError(this.#endpoint);
      const durationMs = performance.now() - started;
      const causeCode = attempt.timedOut ? 'TIMEOUT' : errorCode(err);
      this.#listener.onAttempt({ kind: 'error', code: causeCode, durationMs });
      throw attempt.timedOut
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
    } finally {
      attempt.settled();
      this.#inFlight.delete(attempt);
    }
    const durationMs = performance.now() - started;
    if (status >= 200 && status < 300) {
      this.#listener.onAttempt({ kind: 'success', status, durationMs });
      return;
    }
    this.#listener.onAttempt({ kind: 'failure', status, durationMs });
    if (status >= 300 && status < 400) {
      throw new DeliveryError(
        this.#endpoint,
        'RELAY_HTTP_REDIRECT',
        `answered ${statusText(status)}: redirects are not followed, fix the endpoint url`,
        { status, location: location ?? '' },
      );
    }
    throw new DeliveryError(this.#endpoint, 'RELAY_HTTP_STATUS', `answered ${statusText(status)}`, {
      status,
    });
  }

  // A method, not the field: the flag changes while a request is awaited.
  #isDestroyed(): boolean {
    return this.#destroyed;
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const attempt of this.#inFlight) attempt.abort(new SinkClosedError(this.#endpoint));
    this.#pool.destroy().catch(() => undefined);
  }
}

/**
 * One request's undici handler: settles `done` with the status (and Location) once the
 * whole answer has been read, or with the error; a timer aborts it after `timeoutMs`,
 * from connecting to the last byte of the answer.
 */
class Attempt implements Dispatcher.DispatchHandler {
  readonly done: Promise<[status: number, location: string | undefined]>;
  timedOut = false;
  #resolve!: (result: [number, string | undefined]) => void;
  #reject!: (err: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: Error | undefined;
  #status = 0;
  #location: string | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
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
  }

  onResponseData(): void {
    // The answer's content is not used; reading it frees the connection for the next one.
  }

  onResponseEnd(): void {
    this.#resolve([this.#status, this.#location]);
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
