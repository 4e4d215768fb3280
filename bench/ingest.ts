// Scenario "ingest": accepted events/s with 1-event envelopes, 50 keep-alive connections,
// 10 s, one fast receiver; against a bare Fastify server parsing the same JSON.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { benchEvent, startBenchReceivers, startRelayProcess, track } from './lib.ts';
import { compare, type Row } from './result.ts';

const V1 = 'application/vnd.docker.distribution.events.v1+json';

/** autocannon against `url` with a fresh event id per request; returns 2xx per second. */
export async function hammer(
  url: string,
  seconds: number,
  connections: number,
  overallRate?: number,
) {
  // One template, a fresh id spliced in per request: the relay drops re-sent ids.
  const [head, tail] = JSON.stringify({ events: [benchEvent('@ID@')] }).split('@ID@');
  let n = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    ...(overallRate === undefined ? {} : { overallRate }),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': V1 },
        setupRequest: (req) => ({
          ...req,
          body: `${String(head)}${String(process.pid)}-${String(++n)}${String(tail)}`,
        }),
      },
    ],
  });
  return {
    perSecond: result['2xx'] / seconds,
    failed: result.non2xx + result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

async function startBaseline() {
  const child = track(
    spawn(
      process.execPath,
      ['--import', 'tsx', join(new URL('.', import.meta.url).pathname, 'baseline-fastify.ts')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<string>((resolve) => lines.once('line', resolve));
  return {
    url: `http://127.0.0.1:${port}/events`,
    stop(): void {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    },
  };
}

export async function ingestScenario(seconds = 10): Promise<Row[]> {
  const baseline = await startBaseline();
  const base = await hammer(baseline.url, seconds, 50);
  baseline.stop();

  const receiver = await startBenchReceivers(1);
  const relay = await startRelayProcess({
    notifications: {
      endpoints: [{ name: 'rx', url: receiver.urls[0], queue: { maxPending: 1_000_000 } }],
    },
  });
  const run = await hammer(`${relay.ingestUrl}/events`, seconds, 50);
  await relay.stop();
  receiver.stop();
  if (run.failed > 0 || base.failed > 0) {
    throw new Error(
      `ingest: ${String(run.failed)} relay and ${String(base.failed)} baseline failures`,
    );
  }
  return [
    compare(
      {
        scenario: 'ingest',
        figure: 'accepted events/s (50 conns, 1-event envelopes)',
        relay: run.perSecond,
        baseline: base.perSecond,
        unit: '/s',
      },
      0.6,
    ),
    {
      scenario: 'ingest',
      figure: 'ingest answer latency p99',
      relay: run.p99,
      baseline: base.p99,
      unit: 'ms',
    },
  ];
}
