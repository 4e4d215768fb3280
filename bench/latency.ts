// Scenario "latency": send-to-receipt latency of events at a fixed 1,000 events/s, each in
// its own request as the registry sends them, to 10 receivers through the relay; baseline:
// the same events POSTed straight to the same 10 receivers. Receivers compute the latency
// from `benchSentAt` (epoch ms, stamped just before sending) on the same machine clock.
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
} from './lib.ts';
import { atMost, type Row } from './result.ts';

const RATE = 1_000;
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
async function run(send: (body: string) => Promise<void>): Promise<void> {
  await paced(RATE, WARMUP_SECONDS, () => send(unstamped()));
  await paced(RATE, SECONDS, () => send(stamped()));
}
const TOTAL = RATE * (WARMUP_SECONDS + SECONDS);

async function direct(): Promise<number[]> {
  const receivers = await startBenchReceivers(RECEIVERS, { latency: true });
  const posters = receivers.urls.map((url) => poster(url, 2));
  try {
    await run(async (body) => {
      await Promise.all(posters.map((p) => p.post(body)));
    });
    await receivers.completion(TOTAL, 0);
    return await receivers.latencies();
  } finally {
    await Promise.all(posters.map((p) => p.close()));
    receivers.stop();
  }
}

async function viaRelay(journal = false): Promise<number[]> {
  const receivers = await startBenchReceivers(RECEIVERS, { latency: true });
  const relay = await startRelayProcess({
    notifications: {
      endpoints: receivers.urls.map((url, i) => ({ name: `rx${String(i)}`, url })),
    },
    ...(journal ? { storage: { path: mkdtempSync(join(tmpdir(), 'relay-bench-latency-')) } } : {}),
  });
  const ingest = poster(`${relay.ingestUrl}/events`);
  try {
    await run((body) => ingest.post(body));
    await receivers.completion(TOTAL, 0);
    return await receivers.latencies();
  } finally {
    await ingest.close();
    await relay.stop();
    receivers.stop();
  }
}

export async function latencyScenario(): Promise<Row[]> {
  const base = await direct();
  const relay = await viaRelay();
  const journaled = await viaRelay(true);
  const figure = (q: string) =>
    `send-to-receipt ${q}, ${RATE.toLocaleString('en-US')} events/s to ${String(RECEIVERS)} endpoints`;
  return [
    atMost(
      {
        scenario: 'latency',
        figure: figure('p50'),
        relay: quantile(relay, 0.5),
        baseline: quantile(base, 0.5),
        unit: 'ms',
      },
      5,
    ),
    atMost(
      {
        scenario: 'latency',
        figure: figure('p99'),
        relay: quantile(relay, 0.99),
        baseline: quantile(base, 0.99),
        unit: 'ms',
      },
      5,
    ),
    atMost(
      {
        scenario: 'latency',
        figure: `${figure('p99')}, journal (sync: normal)`,
        relay: quantile(journaled, 0.99),
        baseline: quantile(base, 0.99),
        unit: 'ms',
      },
      15,
    ),
  ];
}
