import { STATUS_CODES } from 'node:http';
import { Pool } from 'undici';
import type { RelayEvent } from '../event.ts';
import { envelopeBody } from '../event.ts';
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
 */
export class HttpSink implements Sink {
  readonly #endpoint: string;
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string | string[]>;
  readonly #timeoutMs: number;
  readonly #listener: EndpointListener;
  readonly #inFlight = new Set<AbortController>();
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
    this.#headers = requestHeaders(url, opts.headers);
    this.#timeoutMs = opts.timeoutMs;
    this.#listener = opts.listener;
    this.#pool = new Pool(url.origin, {
      connections: 4,
      keepAliveTimeout: 30_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async write(event: RelayEvent): Promise<void> {
    if (this.#destroyed) throw new SinkClosedError(this.#endpoint);
    const started = performance.now();
    const abort = new AbortController();
    const timer = setTimeout(() => {
      abort.abort();
    }, this.#timeoutMs);
    this.#inFlight.add(abort);
    try {
      const res = await this.#pool.request({
        method: 'POST',
        path: this.#path,
        headers: this.#headers,
        body: envelopeBody([event]),
        signal: abort.signal,
      });
      // Read the answer to the end so the connection goes back to the pool; its content
      // is not used, so a receiver cannot make the relay buffer much of it.
      await res.body.dump({ limit: 64 * 1024 });
      const durationMs = performance.now() - started;
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        this.#listener.onAttempt({ kind: 'success', status, durationMs });
        return;
      }
      this.#listener.onAttempt({ kind: 'failure', status, durationMs });
      if (status >= 300 && status < 400) {
        const location = res.headers['location'];
        throw new DeliveryError(
          this.#endpoint,
          'RELAY_HTTP_REDIRECT',
          `answered ${statusText(status)}: redirects are not followed, fix the endpoint url`,
          { status, location: Array.isArray(location) ? location.join(', ') : (location ?? '') },
        );
      }
      throw new DeliveryError(
        this.#endpoint,
        'RELAY_HTTP_STATUS',
        `answered ${statusText(status)}`,
        {
          status,
        },
      );
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      if (this.#isDestroyed()) throw new SinkClosedError(this.#endpoint);
      const durationMs = performance.now() - started;
      const timedOut = abort.signal.aborted;
      const causeCode = timedOut ? 'TIMEOUT' : errorCode(err);
      this.#listener.onAttempt({ kind: 'error', code: causeCode, durationMs });
      throw timedOut
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
      clearTimeout(timer);
      this.#inFlight.delete(abort);
    }
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
    for (const abort of this.#inFlight) abort.abort();
    this.#pool.destroy().catch(() => undefined);
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
