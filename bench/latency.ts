// Scenario "latency": send-to-receipt latency of events, each in its own request as the
// registry sends them, to 10 receivers through the relay, in memory, with the journal and on
// one JetStream node; baseline: the same events through a bare forwarder (bench/forwarder.ts:
// Node's http server and one undici connection per receiver, one request at a time, as the
// relay by default), which shows what this machine's scheduling costs any forwarder.
// The load is a quarter of the fan-out capacity measured first in the same run (a fixed
// rate measured a queue, not latency, on a slow day). Receivers compute the latency from
// `benchSentAt` (epoch ms, stamped just before sending) on the same machine clock.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  benchEvent,
  epochMs,
  paced,
  poster,
  quantile,
  startBenchReceivers,
  startRelayProcess,
  track,
} from './lib.ts';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { atMost, type Row } from './result.ts';
import { rate, relayRun as fanoutRun, slowest } from './fanout.ts';
import { natsBinary, startNats } from '../test/support/nats-server.ts';

const SECONDS = 10;
const RECEIVERS = 10;

const WARMUP_SECONDS = 1;

const stamped = (): string =>
  JSON.stringify({ events: [{ ...benchEvent(), benchSentAt: epochMs() }] });
const unstamped = (): string => JSON.stringify({ events: [benchEvent()] });

/**
 * A second of unstamped events first: connections, JIT and the first GCs made the first
 * half-second's p99 100 ms on either path, which is start-up, not steady state.
 */
async function run(events: number, send: (body: string) => Promise<void>): Promise<void> {
  await paced(events, WARMUP_SECONDS, () => send(unstamped()));
  await paced(events, SECONDS, () => send(stamped()));
}
const total = (events: number): number =>
  Math.round(events * WARMUP_SECONDS) + Math.round(events * SECONDS);

/** Baseline: the same events through a bare forwarder (bench/forwarder.ts), same receivers. */
export async function forwarded(events: number): Promise<number[]> {
  const receivers = await startBenchReceivers(RECEIVERS, { latency: true });
  const child = track(
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(new URL('.', import.meta.url).pathname, 'forwarder.ts'),
        ...receivers.urls,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const port = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
  const ingest = poster(`http://127.0.0.1:${port}/events`);
  try {
    await run(events, (body) => ingest.post(body));
    await receivers.completion(total(events), 0);
    return await receivers.latencies();
  } finally {
    await ingest.close();
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    receivers.stop();
  }
}

export async function viaRelay(
  events: number,
  storage: 'memory' | 'journal' | 'nats',
): Promise<number[]> {
  const receivers = await startBenchReceivers(RECEIVERS, { latency: true });
  const bin = natsBinary();
  if (storage === 'nats' && bin === undefined) throw new Error('nats-server is not installed');
  const nats = storage === 'nats' && bin !== undefined ? await startNats(bin, 1) : undefined;
  const relay = await startRelayProcess({
    notifications: {
      endpoints: receivers.urls.map((url, i) => ({ name: `rx${String(i)}`, url })),
    },
    ...(storage === 'journal'
      ? { storage: { path: mkdtempSync(join(tmpdir(), 'relay-bench-latency-')) } }
      : {}),
    ...(nats === undefined ? {} : { storage: { nats: { servers: nats.urls } } }),
  });
  const ingest = poster(`${relay.ingestUrl}/events`);
  try {
    await run(events, (body) => ingest.post(body));
    await receivers.completion(total(events), 0);
    return await receivers.latencies();
  } finally {
    await ingest.close();
    await relay.stop();
    receivers.stop();
    await nats?.stop();
  }
}

export async function latencyScenario(): Promise<Row[]> {
  // This run's capacity: delivered events/s to the 10 receivers, in memory.
  const capacity = rate(RECEIVERS, slowest(await fanoutRun(RECEIVERS)));
  const events = Math.max(10, Math.round(capacity / 4 / RECEIVERS));
  const base = await forwarded(events);
  const measured = {
    memory: await viaRelay(events, 'memory'),
    journal: await viaRelay(events, 'journal'),
    nats: await viaRelay(events, 'nats'),
  };
  const load = `${events.toLocaleString('en-US')} events/s to ${String(RECEIVERS)} endpoints (a quarter of ${Math.round(capacity).toLocaleString('en-US')} deliveries/s measured)`;
  const row = (storage: keyof typeof measured, q: number, target: number, name: string): Row =>
    atMost(
      {
        scenario: 'latency',
        figure: `send-to-receipt p${String(q * 100)}, ${name}, ${load}`,
        relay: quantile(measured[storage], q),
        baseline: quantile(base, q),
        unit: 'ms',
      },
      target,
    );
  return [
    row('memory', 0.5, 5, 'memory'),
    row('memory', 0.99, 5, 'memory'),
    row('journal', 0.5, 15, 'journal (sync: normal)'),
    row('journal', 0.99, 15, 'journal (sync: normal)'),
    row('nats', 0.5, 25, 'JetStream 1 node'),
    row('nats', 0.99, 25, 'JetStream 1 node'),
  ];
}
