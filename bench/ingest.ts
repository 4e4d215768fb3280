// Scenario "ingest": accepted events/s with 1-event envelopes, 50 keep-alive connections,
// 8 s, one fast receiver; against a bare Fastify server parsing the same JSON.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { benchEvent, cpuSeconds, startBenchReceivers, startRelayProcess, track } from './lib.ts';
import { compare, type Row } from './result.ts';

const V1 = 'application/vnd.docker.distribution.events.v1+json';

/** autocannon against `url` with a fresh event id per request; returns 2xx per second. */
export async function hammer(
  url: string,
  seconds: number,
  connections: number,
  overallRate?: number,
  /** Distinguishes the ids of hammers running at once (the relay drops repeated ids). */
  idPrefix = '',
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
          body: `${String(head)}${idPrefix}${String(process.pid)}-${String(++n)}${String(tail)}`,
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

/**
 * `hammer`, plus the server's CPU (user + system) per 2xx answer in µs: unlike events/s,
 * it does not depend on how much of the shared machine the load generator got.
 */
async function hammerCounting(pid: number, url: string, seconds: number) {
  const before = cpuSeconds(pid);
  const run = await hammer(url, seconds, 50);
  const answered = run.perSecond * seconds;
  const cpuUs = answered > 0 ? ((cpuSeconds(pid) - before) * 1e6) / answered : 0;
  return { ...run, cpuUs };
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
    pid: child.pid ?? 0,
    stop(): void {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    },
  };
}

/**
 * Baseline and relay alternate, twice each, and the better of each pair counts: on a
 * shared 2-core machine one 10 s run swings by ±10%, and alternating exposes both sides
 * to the same drift.
 */
export async function ingestScenario(seconds = 8, rounds = 2): Promise<Row[]> {
  const base: Awaited<ReturnType<typeof hammerCounting>>[] = [];
  const relay: Awaited<ReturnType<typeof hammerCounting>>[] = [];
  for (let i = 0; i < rounds; i++) {
    base.push(await baselineRun(seconds));
    relay.push(await relayRun(seconds));
  }
  const failed = [...base, ...relay].reduce((n, r) => n + r.failed, 0);
  if (failed > 0) throw new Error(`ingest: ${String(failed)} requests failed`);
  const best = (runs: typeof base) => runs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const b = best(base);
  const r = best(relay);
  return [
    compare(
      {
        scenario: 'ingest',
        figure: `accepted events/s (50 conns, 1-event envelopes, best of ${String(rounds)})`,
        relay: r.perSecond,
        baseline: b.perSecond,
        unit: '/s',
      },
      0.8,
    ),
    {
      scenario: 'ingest',
      // Of the best runs above, over the load window only. At saturation the relay delivers
      // few events meanwhile (1,583 of 48,836 in one 8 s run), so this is nearly all ingest.
      figure: 'server CPU per accepted request, during the load',
      relay: r.cpuUs,
      baseline: b.cpuUs,
      ratio: r.cpuUs / b.cpuUs,
      unit: 'µs',
    },
    {
      scenario: 'ingest',
      figure: 'ingest answer latency p99 at saturation',
      relay: r.p99,
      baseline: b.p99,
      unit: 'ms',
    },
  ];
}

async function baselineRun(seconds: number) {
  const baseline = await startBaseline();
  try {
    return await hammerCounting(baseline.pid, baseline.url, seconds);
  } finally {
    baseline.stop();
  }
}

export async function relayRun(
  seconds: number,
  sync?: 'normal' | 'full',
  /** More of the relay's config (http.debug). */
  extra: Record<string, unknown> = {},
) {
  const receiver = await startBenchReceivers(1);
  const relay = await startRelayProcess({
    ...extra,
    notifications: {
      endpoints: [{ name: 'rx', url: receiver.urls[0], queue: { maxPending: 1_000_000 } }],
    },
    ...(sync === undefined
      ? {}
      : { storage: { path: mkdtempSync(join(tmpdir(), 'relay-bench-journal-')), sync } }),
  });
  try {
    return await hammerCounting(relay.pid, `${relay.ingestUrl}/events`, seconds);
  } finally {
    await relay.stop();
    receiver.stop();
  }
}

/**
 * Scenario "journal": accepted events/s as in "ingest", with the journal off, with
 * `sync: normal` and with `sync: full`, alternating, best of 2 each.
 */
export async function journalScenario(seconds = 8, rounds = 2): Promise<Row[]> {
  const modes = [undefined, 'normal', 'full'] as const;
  const best = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    for (const sync of modes) {
      const run = await relayRun(seconds, sync);
      if (run.failed > 0) throw new Error(`journal ${String(sync)}: ${String(run.failed)} failed`);
      const key = sync ?? 'off';
      best.set(key, Math.max(best.get(key) ?? 0, run.perSecond));
    }
  }
  const off = best.get('off') ?? 0;
  return (['normal', 'full'] as const).map((sync) => {
    const relay = best.get(sync) ?? 0;
    return {
      scenario: 'journal',
      figure: `accepted events/s, journal sync: ${sync} (baseline: journal off)`,
      relay,
      baseline: off,
      ratio: relay / off,
      unit: '/s',
    };
  });
}
