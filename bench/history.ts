// Scenario "history": what the admin API's attempts log and event whereabouts cost.
// The same runs with them on (the defaults: 100 attempts per endpoint in memory, 1,000 in
// the journal, 10,000 events' whereabouts) and off (`keep: 0`), alternating, best of 2:
// fan-out (10 receivers × 10,000 events, delivered/s) and ingest (accepted/s, 50
// connections), each in memory and with the journal. Baseline: the log off, same run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bestOf, rate, relayRun as fanoutRun, slowest } from './fanout.ts';
import { relayRun as ingestRun } from './ingest.ts';
import { compare, type Row } from './result.ts';

const OFF = {
  http: {
    addr: '127.0.0.1:0',
    debug: { addr: '127.0.0.1:0', attempts: { keep: 0 }, events: { keep: 0 } },
  },
};

const journal = () => ({
  storage: { path: mkdtempSync(join(tmpdir(), 'relay-bench-history-')), sync: 'normal' },
});

/** Their cost is held within 8 %. */
const TARGET = 0.92;

function row(figure: string, on: number, off: number): Row {
  return compare(
    {
      scenario: 'history',
      figure: `${figure} (baseline: attempts log and whereabouts off)`,
      relay: on,
      baseline: off,
      unit: '/s',
    },
    TARGET,
  );
}

export async function historyScenario(seconds = 6): Promise<Row[]> {
  const rows: Row[] = [];
  for (const durable of [false, true]) {
    const where = durable ? 'journal' : 'memory';
    const [on = 0, off = 0] = await bestOf([
      async () =>
        rate(10, slowest(await fanoutRun(10, undefined, { config: durable ? journal() : {} }))),
      async () =>
        rate(
          10,
          slowest(
            await fanoutRun(10, undefined, { config: { ...OFF, ...(durable ? journal() : {}) } }),
          ),
        ),
    ]);
    rows.push(row(`fan-out delivered events/s, 10 receivers, ${where}`, on, off));
  }
  for (const sync of [undefined, 'normal'] as const) {
    const where = sync === undefined ? 'memory' : 'journal';
    const [on = 0, off = 0] = await bestOf([
      async () => (await ingestRun(seconds, sync)).perSecond,
      async () => (await ingestRun(seconds, sync, OFF)).perSecond,
    ]);
    rows.push(row(`ingest accepted events/s, 50 conns, ${where}`, on, off));
  }
  return rows;
}
