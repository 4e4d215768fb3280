import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { after } from 'node:test';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import type { Clock } from '../../src/core/clock.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { RelayConfig } from '../../src/config/schema.ts';
import { createLogger } from '../../src/core/logger.ts';

/**
 * A clock that moves only when told. `advance` fires due sleeps in time order and lets the
 * promise chains they wake run before moving on, so code under test sees time pass exactly
 * as it would in real life, without waiting.
 */
export class FakeClock implements Clock {
  /** A realistic start, so that times shown as dates read as dates, not as 1970. */
  #now = Date.parse('2026-12-01T09:00:00.000Z');
  #timers: { at: number; seq: number; resolve: () => void }[] = [];
  #seq = 0;

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const onAbort = (): void => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        resolve();
      };
      const timer = {
        at: this.#now + ms,
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.#timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  every(ms: number, task: () => void): () => void {
    const stop = new AbortController();
    void (async () => {
      for (;;) {
        await this.sleep(ms, stop.signal);
        if (stop.signal.aborted) return;
        task();
      }
    })();
    return () => {
      stop.abort();
    };
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every sleep that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (next === undefined || next.at > target) break;
      this.#timers.shift();
      this.#now = next.at;
      next.resolve();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

export type Responder = (req: Received, res: ServerResponse) => void;

/** A real HTTP receiver on 127.0.0.1, port chosen by the OS. Answers 200 unless told. */
export async function startReceiver(respond?: Responder) {
  const requests: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let responder: Responder | undefined = respond;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const r = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        at: Date.now(),
      };
      requests.push(r);
      if (responder) responder(r, res);
      else res.writeHead(200).end();
      for (const w of waiters.filter((w) => requests.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  });
  let connections = 0;
  server.on('connection', () => (connections += 1));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    port,
    requests,
    /** Event ids received, in order. */
    ids(): string[] {
      return requests.flatMap((r) =>
        (JSON.parse(r.body) as { events: { id: string }[] }).events.map((e) => e.id),
      );
    },
    events(): Record<string, unknown>[] {
      return requests.flatMap(
        (r) => (JSON.parse(r.body) as { events: Record<string, unknown>[] }).events,
      );
    },
    /** TCP connections accepted so far. */
    connections: () => connections,
    respondWith(r: Responder | undefined): void {
      responder = r;
    },
    waitFor(n: number, timeoutMs = 10_000): Promise<void> {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          reject(new Error(`receiver got ${requests.length} requests, expected ${n}`));
        }, timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** A validated config from a plain object, listeners on loopback ports chosen by the OS. */
export function makeConfig(
  endpoints: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
): RelayConfig {
  const { http = {}, ...rest } = extra as { http?: Record<string, unknown> };
  const doc = {
    http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' }, ...http },
    log: { level: 'warn' },
    ...rest,
    notifications: { endpoints },
  };
  return parseConfig(stringify(doc), 'test.yaml', env);
}

/** A logger that keeps every line in memory, to inspect what the relay logs. */
export function memoryLogger(level = 'debug') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      cb();
    },
  });
  return { log: createLogger(level, stream), lines };
}

let seq = 0;
/** A registry-shaped push event with a unique id. */
export function pushEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return {
    id: `evt-${process.pid}-${seq}`,
    timestamp: '2026-11-23T01:02:48.260076203Z',
    action: 'push',
    target: {
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      digest: 'sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f',
      size: 528,
      length: 528,
      repository: 'team/app',
      tag: 'latest',
    },
    request: { id: 'r1', addr: '127.0.0.1:1', host: 'registry', method: 'PUT', useragent: 'test' },
    actor: {},
    source: { addr: 'vm:5000', instanceID: 'i-1' },
    ...overrides,
  };
}

export const envelope = (...events: Record<string, unknown>[]): string =>
  JSON.stringify({ events });

export interface FixtureRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

/** Requests captured from registry 2.8.2 (test/fixtures/registry-2.8.2/*.jsonl). */
export function loadFixtures(name: 'plain' | 'references'): FixtureRequest[] {
  const text = readFileSync(
    new URL(`../fixtures/registry-2.8.2/${name}.jsonl`, import.meta.url),
    'utf8',
  );
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FixtureRequest);
}

export const V1 = 'application/vnd.docker.distribution.events.v1+json';

export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A relay listening on loopback ports chosen by the OS, logging into memory. */
export async function startTestRelay(
  endpoints: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
  opts: { clock?: Clock; env?: NodeJS.ProcessEnv } = {},
) {
  const { startRelay } = await import('../../src/relay/server.ts');
  const { log, lines } = memoryLogger();
  const config = makeConfig(endpoints, extra, opts.env);
  const running = await startRelay(config, {
    log,
    // Proxy variables come from the test, never from the machine running it.
    env: opts.env ?? {},
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
  });
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${running.ingestUrl}/events`, {
      method: 'POST',
      headers: { 'content-type': V1, ...headers },
      body,
    });
  const vars = async () =>
    (await (await fetch(`${running.debugUrl}/debug/vars`)).json()) as {
      registry: { notifications: { endpoints: ExpvarEndpoint[] } };
      relay: Record<string, unknown> & {
        ingest: { events: number; duplicates: number; requests: Record<string, number> };
        endpoints: { name: string; Dropped: number }[];
      };
      cmdline: string[];
      memstats: Record<string, number>;
    };
  const endpointVars = async (name: string): Promise<ExpvarEndpoint> => {
    const found = (await vars()).registry.notifications.endpoints.find((e) => e.name === name);
    assert.ok(found, `no endpoint ${name} in /debug/vars`);
    return found;
  };
  return { ...running, lines, post, vars, endpointVars };
}

export interface ExpvarEndpoint {
  name: string;
  url: string;
  Headers: Record<string, string[]>;
  Timeout: number;
  Threshold: number;
  Backoff: number;
  IgnoredMediaTypes: string[] | null;
  Ignore: { MediaTypes: string[] | null; Actions: string[] | null };
  Disabled: boolean;
  Metrics: {
    Pending: number;
    Events: number;
    Successes: number;
    Failures: number;
    Errors: number;
    Statuses: Record<string, number>;
  };
}

/**
 * Receivers and relays that are closed after the calling file's tests, so that no server
 * keeps the test process alive. Call once, at the top level of a test file.
 */
export function closedAfterTests() {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const receiver = async (...args: Parameters<typeof startReceiver>): Promise<Receiver> => {
    const r = await startReceiver(...args);
    cleanups.push(() => r.close());
    return r;
  };
  const relay = async (...args: Parameters<typeof startTestRelay>) => {
    const r = await startTestRelay(...args);
    cleanups.push(() => r.stop());
    return r;
  };
  return { receiver, relay };
}

/**
 * A free port below Linux's ephemeral range (32768+), for a test that closes a port and
 * listens on it again later: an ephemeral port may meanwhile be the local end of some
 * outgoing connection, and listening on it then fails with EADDRINUSE.
 */
export async function portToReopen(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => {
        resolve(false);
      });
      server.listen(port, '127.0.0.1', () => {
        resolve(true);
      });
    });
    if (ok) {
      await new Promise((r) => server.close(r));
      return port;
    }
  }
  throw new Error('no free port between 20000 and 32000');
}
