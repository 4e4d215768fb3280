// `npm run bench [-- SCENARIO...]`: runs benchmark scenarios, prints a markdown table and
// writes the figures as JSON under bench/results/ (ignored by git).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { killAll } from './lib.ts';
import { runLoad } from './load.ts';

function loadRows(r: Awaited<ReturnType<typeof runLoad>>) {
  return {
    rows: [
      ['accepted events/s (1-event envelopes, 50 conns, 10 s)', r.acceptedPerSec.toFixed(0)],
      ['delivered events/s during the 10 s window', r.deliveredInWindowPerSec.toFixed(0)],
      ['delivered events/s until nothing pending', r.deliveredPerSec.toFixed(0)],
      [
        'accepted / delivered / dropped (queue full)',
        `${String(r.accepted)} / ${String(r.delivered)} / ${String(r.dropped)}`,
      ],
      ['ingest latency p50 / p99 (ms)', `${String(r.latencyP50Ms)} / ${String(r.latencyP99Ms)}`],
      ['non-2xx answers or errors', String(r.non2xx)],
    ],
    raw: r,
  };
}

const scenarios = {
  /** As fast as ingest answers: shows ingest capacity and what one endpoint keeps up with. */
  load: async () => loadRows(await runLoad()),
  /** At 2,000 events/s, above the ~1,500/s a registry produced here under pull load. */
  'load-2k': async () => loadRows(await runLoad(10, 50, 2000)),
} satisfies Record<string, () => Promise<{ rows: string[][]; raw: unknown }>>;

type Name = keyof typeof scenarios;
const asked = process.argv.slice(2).filter((a) => a !== '--');
const unknown = asked.filter((a) => !(a in scenarios));
if (unknown.length > 0) {
  console.error(
    `unknown scenario ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`,
  );
  process.exit(2);
}
const names = (asked.length > 0 ? asked : Object.keys(scenarios)) as Name[];
const machine = `${String(cpus().length)} cores, Node ${process.version}, ${process.platform}`;
const results: Record<string, unknown> = { machine, at: new Date().toISOString() };
console.log(`machine: ${machine}\n`);
console.log('| scenario | figure | value |\n| --- | --- | --- |');
try {
  for (const name of names) {
    const { rows, raw } = await scenarios[name]();
    results[name] = raw;
    for (const [figure, value] of rows)
      console.log(`| ${name} | ${String(figure)} | ${String(value)} |`);
  }
} finally {
  killAll();
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/bench-${String(Date.now())}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${file.pathname}`);
