// Scenario "soak": a relay on the journal takes SOAK_RATE one-event envelopes a second for
// SOAK_SECONDS to 5 endpoints, drains, and stops. What it keeps afterwards: RSS and V8 heap
// 2 s after the drain and once idle for IDLE_SECONDS (V8's memory reducer gives the grown
// heap back after some idle seconds), against before the soak (the baseline, same
// process), and the attempts log's rows per endpoint in the journal after the stop.
// SOAK_HEAPSNAPSHOT=DIR writes a heap snapshot of the drained relay there (SIGUSR2).
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  benchEvent,
  paced,
  poster,
  rssBytes,
  startBenchReceivers,
  startRelayProcess,
  until,
} from './lib.ts';
import { atMost, type Row } from './result.ts';

const RATE = Number(process.env['SOAK_RATE'] ?? 2000);
const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 30);
const ENDPOINTS = 5;
const IDLE_SECONDS = Math.max(2, Number(process.env['SOAK_IDLE'] ?? 45));
/** http.debug.attempts.store's default: the journal's bound per endpoint. */
const STORE = 1000;

const settle = async (): Promise<void> => {
  await new Promise((r) => setTimeout(r, 2000));
};

export async function soakScenario(): Promise<Row[]> {
  const receivers = await startBenchReceivers(ENDPOINTS);
  const dir = mkdtempSync(join(tmpdir(), 'relay-soak-'));
  const snapshots = process.env['SOAK_HEAPSNAPSHOT'];
  const relay = await startRelayProcess(
    {
      storage: { path: dir },
      notifications: {
        endpoints: receivers.urls.map((url, i) => ({ name: `rx${String(i)}`, url })),
      },
    },
    snapshots === undefined
      ? []
      : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`],
  );
  try {
    const vars = () => relay.vars();
    const pending = async () =>
      (await vars()).registry.notifications.endpoints.reduce((n, e) => n + e.Metrics.Pending, 0);
    await settle();
    const rss0 = rssBytes(relay.pid);
    const heap0 = (await vars()).memstats.HeapAlloc;
    const ingest = poster(`${relay.ingestUrl}/events`, 16);
    await paced(RATE, SECONDS, () => ingest.post(JSON.stringify({ events: [benchEvent()] })));
    await ingest.close();
    const total = RATE * SECONDS;
    await receivers.completion(total, 0, 300_000);
    await until(async () => (await pending()) === 0, 60_000, 'every endpoint drained');
    await settle();
    // Read beside the running relay (SQLite WAL): what the table holds between two prunes.
    const rowsRunning = attemptRows(join(dir, 'journal.db'));
    const rss1 = rssBytes(relay.pid);
    const heap1 = (await vars()).memstats.HeapAlloc;
    await new Promise((r) => setTimeout(r, (IDLE_SECONDS - 2) * 1000));
    const rss2 = rssBytes(relay.pid);
    const heap2 = (await vars()).memstats.HeapAlloc;
    if (snapshots !== undefined) {
      process.kill(relay.pid, 'SIGUSR2');
      await until(
        () => Promise.resolve(readdirSync(snapshots).some((f) => f.endsWith('.heapsnapshot'))),
        120_000,
        'the heap snapshot',
      );
      await new Promise((r) => setTimeout(r, 5000));
    }
    await relay.stop();
    const rowsStopped = attemptRows(join(dir, 'journal.db'));
    const load = `${RATE.toLocaleString('en-US')} events/s for ${String(SECONDS)} s to ${String(ENDPOINTS)} endpoints, journal`;
    return [
      ...(
        [
          ['RSS 2 s after the drain', rss1, rss0],
          [`RSS idle ${String(IDLE_SECONDS)} s after the drain`, rss2, rss0],
          ['V8 heap used 2 s after the drain', heap1, heap0],
          [`V8 heap used idle ${String(IDLE_SECONDS)} s after the drain`, heap2, heap0],
        ] as const
      ).map(([what, relay, baseline]) => ({
        scenario: 'soak',
        figure: `${what} ÷ before, ${load}`,
        relay,
        baseline,
        ratio: relay / baseline,
        unit: 'B',
      })),
      ...(
        [
          ['2 s after the drain, the relay running', rowsRunning],
          ['after the stop', rowsStopped],
        ] as const
      ).map(([when, rows]) =>
        atMost(
          {
            scenario: 'soak',
            figure: `attempts rows of the busiest endpoint in the journal ${when} (bound ${String(STORE)})`,
            relay: rows,
            baseline: STORE,
            unit: 'rows',
          },
          STORE,
        ),
      ),
    ];
  } finally {
    await relay.stop();
    receivers.stop();
  }
}

/** The most attempts any one endpoint has in the journal's table. */
function attemptRows(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare<[], { n: number }>('SELECT count(*) AS n FROM attempts GROUP BY endpoint')
      .all();
    return Math.max(0, ...rows.map((r) => r.n));
  } finally {
    db.close();
  }
}
