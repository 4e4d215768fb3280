// Runs Debian's nats-server (2.9, JetStream) as a real peer: one server, or a cluster of
// several with routes between them, each on ports the OS chose and a storage directory of
// its own. Shared by the tests (test/nats-process.ts) and the benchmarks; every server is
// killed by its pid with killAllNats().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './registry-process.ts';

const children = new Set<ChildProcess>();

/** The server binary: $NATS_SERVER_BIN, else nats-server on PATH; undefined if absent. */
export function natsBinary(): string | undefined {
  const candidate = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? candidate : undefined;
}

/** Kills, by pid, every server started so far and still running. */
export function killAllNats(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // Exited between the check and the kill.
      }
    }
  }
}

export interface NatsNode {
  readonly url: string;
  readonly pid: number;
  /** Stops the node at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts the node again on the same ports and storage. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

async function listening(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${String(port)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts `size` JetStream servers clustered with each other (one: no cluster); `extra`
 * lines go into each server's config (TLS, authorization).
 */
export async function startNats(
  bin: string,
  size = 1,
  extra: readonly string[] = [],
): Promise<NatsCluster> {
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      client: await freePort(),
      cluster: await freePort(),
    })),
  );
  const routes = ports.map((p) => `nats-route://127.0.0.1:${String(p.cluster)}`);
  const nodes = ports.map((p, i): NatsNode => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-nats-'));
    const file = join(dir, 'nats.conf');
    const lines = [
      `server_name: n${String(i + 1)}`,
      `listen: 127.0.0.1:${String(p.client)}`,
      `jetstream { store_dir: "${join(dir, 'js')}" }`,
      ...extra,
    ];
    if (size > 1) {
      lines.push(
        `cluster { name: relay, listen: 127.0.0.1:${String(p.cluster)}, routes: [${routes.join(', ')}] }`,
      );
    }
    writeFileSync(file, lines.join('\n'));
    let child: ChildProcess | undefined;
    const start = async (): Promise<void> => {
      const c = spawn(bin, ['-c', file], { stdio: ['ignore', 'ignore', 'ignore'] });
      children.add(c);
      child = c;
      await listening(p.client, Date.now() + 10_000);
    };
    return {
      url: `nats://127.0.0.1:${String(p.client)}`,
      get pid() {
        return child?.pid ?? 0;
      },
      async kill() {
        const c = child;
        if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        process.kill(c.pid ?? 0, 'SIGKILL');
        await exited;
      },
      restart: start,
    };
  });
  await Promise.all(nodes.map((n) => n.restart()));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
}
