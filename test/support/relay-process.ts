// The relay as a child process on a config file, as a user runs it: for tests that kill it
// (SIGKILL mid-stream) and start it again on the same storage.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { stringify } from 'yaml';
import { envelope, V1 } from './helpers.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const children = new Set<ChildProcess>();

/** Kills, by pid, every relay the calling file started and left running. */
function killLeftovers(): void {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // Exited between the check and the kill.
    }
  }
}

// Registered when a test file imports this module, so at the file's top level: a hook
// registered inside a test would run when that test ends and kill its neighbours' relays.
after(killLeftovers);

/** Writes `dir/relay.yaml` as spawnRelay does (a relay reads it again on SIGHUP). */
export function writeRelayConfig(config: Record<string, unknown>, dir: string): string {
  const file = join(dir, 'relay.yaml');
  writeFileSync(
    file,
    stringify({
      http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' } },
      shutdown: { timeout: '100ms' },
      ...config,
    }),
  );
  return file;
}

/** The config reloads a relay counted so far, from `relay.config` in its /debug/vars. */
export async function configReloads(
  debugUrl: string,
): Promise<{ success: number; failure: number }> {
  const vars = (await (await fetch(`${debugUrl}/debug/vars`)).json()) as {
    relay: { config: { reloads: { success: number; failure: number } } };
  };
  return vars.relay.config.reloads;
}

export interface RelayProcess {
  readonly ingest: string;
  readonly debug: string;
  readonly pid: number;
  /** Its log so far, one parsed JSON line each. */
  logs(): readonly Record<string, unknown>[];
  /** Sends `signal` and resolves with the exit code (null when a signal ended it). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts the relay as a child on `config` (written to `dir/relay.yaml`, listeners on ports
 * the OS chooses); resolves with its ingest and debug URLs once both listen.
 */
export async function spawnRelay(
  config: Record<string, unknown>,
  dir: string,
  nodeArgs: string[] = [],
  /** Told of every log line as it comes, before the relay listens too. */
  onLog?: (line: Record<string, unknown>) => void,
): Promise<RelayProcess> {
  const file = writeRelayConfig(config, dir);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', MAIN, '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const logs: Record<string, unknown>[] = [];
  lines.on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      parsed = { msg: line };
    }
    logs.push(parsed);
    onLog?.(parsed);
  });
  const urls = await new Promise<{ ingest: string; debug: string }>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /"ingest":"([^"]+)","debug":"([^"]+)"/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined) resolve({ ingest: m[1], debug: m[2] });
    });
    child.once('exit', (code) => {
      reject(new Error(`relay exited (${String(code)}) before listening`));
    });
  });
  return {
    ...urls,
    pid: child.pid ?? 0,
    exited,
    logs: () => logs,
    kill(signal: NodeJS.Signals): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid ?? 0, signal);
        } catch (err) {
          // Gone already (reaped before its exit event reached us): nothing to kill.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
      return exited;
    },
  };
}

/** POSTs `events` in one envelope to the relay's `/events`, as the registry does. */
export function postEvents(relay: RelayProcess, events: Record<string, unknown>[]) {
  return fetch(`${relay.ingest}/events`, {
    method: 'POST',
    headers: { 'content-type': V1 },
    body: envelope(...events),
  });
}

/** Runs `registry-relay ARGS` to its end, as an operator types it. */
export function runCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}
