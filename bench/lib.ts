// Shared pieces of the benchmark suite: processes started and killed by pid, a relay
// child on a generated config, counting receivers, and a fixed-shape registry event.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';

const ROOT = new URL('..', import.meta.url).pathname;
const children = new Set<ChildProcess>();

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

export async function startBenchReceiver() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/receiver.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const [, port] = await firstLine(child, /^(\d+)$/);
  const url = `http://127.0.0.1:${String(port)}`;
  return {
    url: `${url}/events`,
    async count(): Promise<{ events: number; requests: number }> {
      return (await (await fetch(url)).json()) as { events: number; requests: number };
    },
    stop(): void {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    },
  };
}

/**
 * Runs the built relay (dist/main.js) as a child process on a generated config, with both
 * listeners on ports chosen by the OS (read back from its "listening" log line).
 */
export async function startRelayProcess(config: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const file = join(dir, 'relay.yaml');
  writeFileSync(
    file,
    stringify({
      http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' } },
      log: { level: 'info' },
      ...config,
    }),
  );
  const child = spawn(process.execPath, [join(ROOT, 'dist/main.js'), '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  children.add(child);
  const [, ingest, debug] = await firstLine(
    child,
    /"ingest":"(http:\/\/[^"]+)","debug":"(http:\/\/[^"]+)"/,
  );
  return {
    pid: child.pid,
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
