import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { systemClock } from '../core/clock.ts';
import { join, resolve } from 'node:path';
import type { RelayConfig } from '../config/schema.ts';
import { ReloadCommandError } from '../core/errors.ts';

/**
 * Where a relay started on `configFile` writes its pid: one file per config file (by its
 * real path), in the temp directory, so `registry-relay reload --config FILE` finds the
 * relay that runs on FILE from any working directory.
 */
export function pidFilePath(configFile: string): string {
  let path = resolve(configFile);
  try {
    path = realpathSync(path);
  } catch {
    // A config file that is gone: its relay is found by the path it was started with.
  }
  const digest = createHash('sha256').update(path).digest('hex').slice(0, 16);
  return join(tmpdir(), `registry-relay-${digest}.pid`);
}

/** Writes the pid file; returns a function that removes it (if it is still this process's). */
export function writePidFile(configFile: string): () => void {
  const file = pidFilePath(configFile);
  writeFileSync(file, `${String(process.pid)}\n`);
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file);
    } catch {
      // Already gone.
    }
  };
}

interface ConfigStatus {
  reloads: { success: number; failure: number };
  last?: {
    ok: boolean;
    problems?: string[];
    added?: string[];
    changed?: { name: string; keys: string[] }[];
    removed?: string[];
  };
}

/**
 * `registry-relay reload --config FILE`: sends SIGHUP to the relay running on FILE, then
 * reads the outcome from its ops listener. Resolves with the lines to print and whether
 * the reload succeeded.
 */
export async function reloadRunning(
  configFile: string,
  config: RelayConfig,
  timeoutMs = 5000,
): Promise<{ ok: boolean; lines: string[] }> {
  const file = pidFilePath(configFile);
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    throw new ReloadCommandError(
      `no relay runs on ${configFile}: no pid file at ${file} (start it with --config ${configFile}, or send it SIGHUP yourself)`,
    );
  }
  try {
    process.kill(pid, 0);
  } catch {
    throw new ReloadCommandError(
      `no relay runs on ${configFile}: pid ${String(pid)} in ${file} is not running (a stale pid file)`,
    );
  }
  const { host, port } = config.http.debug.addr;
  const opsHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const vars = `http://${opsHost}:${String(port)}/debug/vars`;
  const status = async (): Promise<ConfigStatus | undefined> => {
    try {
      const res = await fetch(vars, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { relay?: { config?: ConfigStatus } };
      return body.relay?.config;
    } catch {
      return undefined;
    }
  };
  const before = await status();
  process.kill(pid, 'SIGHUP');
  const sent = `sent SIGHUP to the relay on ${configFile} (pid ${String(pid)})`;
  if (before === undefined) {
    return { ok: true, lines: [sent, `its outcome could not be read from ${vars}; see its log`] };
  }
  const count = (s: ConfigStatus): number => s.reloads.success + s.reloads.failure;
  for (const deadline = systemClock.now() + timeoutMs; systemClock.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 50));
    const after = await status();
    if (after === undefined || count(after) === count(before) || after.last === undefined) continue;
    const last = after.last;
    if (!last.ok)
      return {
        ok: false,
        lines: [
          sent,
          'reload failed, still running on the previous config:',
          ...(last.problems ?? []).map((p) => `  ${p}`),
        ],
      };
    const changed = (last.changed ?? []).map((c) => `${c.name} (${c.keys.join(', ')})`);
    return {
      ok: true,
      lines: [
        sent,
        `reloaded: added ${(last.added ?? []).join(', ') || 'none'}; changed ${changed.join(', ') || 'none'}; removed ${(last.removed ?? []).join(', ') || 'none'}`,
      ],
    };
  }
  return {
    ok: true,
    lines: [sent, `no outcome at ${vars} within ${String(timeoutMs / 1000)} s; see its log`],
  };
}
