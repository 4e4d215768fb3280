// Shared pieces of the benchmark suite: processes started and killed by pid, a relay
// child on a generated config, counting receivers, and a fixed-shape registry event.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { stringify } from 'yaml';

const ROOT = new URL('..', import.meta.url).pathname;
const children = new Set<ChildProcess>();

/** Registers a child process so that killAll() ends it. */
export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  return child;
}

/** Kills every child this benchmark started, by its own pid; safe to call twice. */
export function killAll(): void {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // Already gone between the check and the kill.
    }
  }
}
process.on('exit', killAll);

function firstLine(child: ChildProcess, match: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const out = child.stdout;
    if (out === null) throw new Error('child has no stdout');
    const lines = createInterface({ input: out });
    lines.on('line', (line) => {
      const m = match.exec(line);
      if (m !== null) resolve(m);
    });
    child.once('exit', (code) => {
      reject(new Error(`child exited (${String(code)}) before printing ${String(match)}`));
    });
  });
}

/** Starts `count` receivers (and optionally one that never answers) in a child process. */
export async function startBenchReceivers(
  count = 1,
  opts: { latency?: boolean; hanging?: boolean } = {},
) {
  const args = [String(count)];
  if (opts.latency === true) args.push('--latency');
  if (opts.hanging === true) args.push('--hanging');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/receiver.ts'), ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.add(child);
  const [line] = await firstLine(child, /^\{.*\}$/);
  const { ports, hanging, control } = JSON.parse(line) as {
    ports: number[];
    hanging?: number;
    control: number;
  };
  const url = (port: number, path: string): string => `http://127.0.0.1:${String(port)}${path}`;
  const stats = async () =>
    (await (await fetch(url(control, '/stats'))).json()) as {
      events: number;
      requests: number;
      /** Epoch ms of the last event this receiver got. */
      lastAt: number;
    }[];
  return {
    pid: child.pid ?? 0,
    urls: ports.map((p) => url(p, '/events')),
    hangingUrl: hanging === undefined ? undefined : url(hanging, '/events'),
    stats,
    /** Events received, per receiver, in the order of `urls`. */
    async counts(): Promise<number[]> {
      return (await stats()).map((s) => s.events);
    },
    /**
     * Waits until every receiver has `target` events; returns, per receiver, the seconds
     * from `startedAt` (epoch ms, see `epochMs`) to its last event.
     */
    /**
     * Waits until every receiver has `target` events; resolves with each one's time from
     * `startedAt` (epoch ms, 0 when only completion matters) to its last event. Gives up
     * `timeoutMs` after the call, whatever `startedAt` is.
     */
    async completion(target: number, startedAt: number, timeoutMs = 120_000): Promise<number[]> {
      const deadline = epochMs() + timeoutMs;
      for (;;) {
        const s = await stats();
        if (s.every((r) => r.events >= target)) return s.map((r) => (r.lastAt - startedAt) / 1000);
        if (epochMs() > deadline)
          throw new Error(
            `after ${String(timeoutMs / 1000)} s the receivers were at ${s.map((r) => r.events).join(',')} of ${String(target)} events`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async latencies(): Promise<number[]> {
      return (await (await fetch(url(control, '/latencies'))).json()) as number[];
    },
    stop(): void {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    },
  };
}

/** Wall-clock ms with sub-ms precision, comparable across processes on this machine. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** A port on loopback where nothing listens: connections are refused. */
export async function closedPortUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return `http://127.0.0.1:${String(port)}/events`;
}

/** Polls until `done()` holds; throws after `timeoutMs`. */
export async function until(done: () => Promise<boolean>, timeoutMs: number, what: string) {
  const start = performance.now();
  while (!(await done())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: field 14 (utime) and 15 (stime) are at offsets 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Sends envelopes of `perEnvelope` events to the relay's ingest, `parallel` at a time. */
export async function ingest(
  ingestUrl: string,
  total: number,
  perEnvelope = 100,
  parallel = 4,
  make: () => Record<string, unknown> = () => benchEvent(),
): Promise<void> {
  const pool = new Pool(new URL(ingestUrl).origin, { connections: parallel });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const n = Math.min(perEnvelope, total - next);
      next += n;
      const events = Array.from({ length: n }, make);
      const res = await pool.request({
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      await res.body.dump();
      if (res.statusCode !== 202) throw new Error(`ingest answered ${String(res.statusCode)}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  await pool.close();
}

/**
 * Runs the built relay (dist/main.js) as a child process on a generated config, with both
 * listeners on ports chosen by the OS (read back from its "listening" log line).
 */
export async function startRelayProcess(
  config: Record<string, unknown>,
  extraNodeArgs: string[] = [],
) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const file = join(dir, 'relay.yaml');
  writeFileSync(
    file,
    stringify({
      http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' } },
      log: { level: 'info' },
      shutdown: { timeout: '1s' },
      ...config,
    }),
  );
  // BENCH_RELAY_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the relay.
  const nodeArgs = (process.env['BENCH_RELAY_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(
    process.execPath,
    [...nodeArgs, ...extraNodeArgs, join(ROOT, 'dist/main.js'), '--config', file],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
  children.add(child);
  const [, ingest, debug] = await firstLine(
    child,
    /"ingest":"(http:\/\/[^"]+)","debug":"(http:\/\/[^"]+)"/,
  );
  return {
    pid: child.pid ?? 0,
    /** /debug/vars, parsed. */
    async vars(): Promise<RelayVars> {
      return (await (await fetch(`${String(debug)}/debug/vars`)).json()) as RelayVars;
    },
    ingestUrl: String(ingest),
    debugUrl: String(debug),
    async stop(): Promise<void> {
      if (child.pid === undefined || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    },
  };
}

let seq = 0;
/** A manifest push event like registry 2.8.2 sends, about 900 bytes, with a unique id. */
export function benchEvent(id = `bench-${process.pid}-${String(++seq)}`): Record<string, unknown> {
  return {
    id,
    timestamp: '2026-11-23T01:02:48.260076203Z',
    action: 'push',
    target: {
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      size: 528,
      digest: 'sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f',
      length: 528,
      repository: 'team/app',
      url: 'http://127.0.0.1:5000/v2/team/app/manifests/sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f',
      tag: 'latest',
    },
    request: {
      id: '33b5eb8d-8351-4409-806d-031e7cb5af1d',
      addr: '127.0.0.1:44066',
      host: '127.0.0.1:5000',
      method: 'PUT',
      useragent: 'docker/27.3.1',
    },
    actor: { name: 'ci-bot' },
    source: { addr: 'registry-0:5000', instanceID: '7a37e3a7-a3ad-40d4-89d6-9ee35c020320' },
  };
}

export interface RelayVars {
  registry: { notifications: { endpoints: { name: string; Metrics: { Pending: number } }[] } };
  relay: { endpoints: { name: string; Dropped: number }[]; ingest: { events: number } };
  memstats: { Sys: number; HeapAlloc: number };
}

/**
 * Calls `send(i)` for i = 0 … rate×seconds−1 at a steady `rate` per second (checked every
 * millisecond, so at most a millisecond's worth leave together), then awaits them all.
 */
export async function paced(
  rate: number,
  seconds: number,
  send: (i: number) => Promise<void>,
): Promise<void> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  // An object, not a variable: TypeScript cannot see the callback assign a variable.
  const failed: { error?: Error } = {};
  for (let sent = 0; sent < total;) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const p: Promise<void> = send(sent).then(
        () => inFlight.delete(p),
        (err: unknown) => {
          failed.error ??= err instanceof Error ? err : new Error(String(err));
          inFlight.delete(p);
        },
      ) as Promise<void>;
      inFlight.add(p);
    }
    if (failed.error !== undefined) throw failed.error;
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  if (failed.error !== undefined) throw failed.error;
}

/** The value at quantile `q` (0…1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

/** Resident set size of a process, in bytes, from /proc. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${String(pid)}`);
  return Number(kb) * 1024;
}

/** POSTs one-event envelopes to `url` over a keep-alive pool; throws on a non-2xx. */
export function poster(url: string, connections = 8) {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections });
  return {
    async post(body: string): Promise<void> {
      const res = await pool.request({
        method: 'POST',
        path: target.pathname,
        headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
        body,
      });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`${url} answered ${String(res.statusCode)}`);
    },
    close: () => pool.close(),
  };
}
