// `npm run bench [-- SCENARIO...]`: runs benchmark scenarios, each against a baseline
// measured in the same invocation, prints a markdown table and writes the figures as JSON
// under bench/results/ (ignored by git).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { batchScenario, fanoutScenario, isolationScenario } from './fanout.ts';
import { enrichScenario } from './enrich.ts';
import { historyScenario } from './history.ts';
import { ingestScenario, journalScenario } from './ingest.ts';
import { jetstreamScenario } from './jetstream.ts';
import { latencyScenario } from './latency.ts';
import { memoryScenario } from './memory.ts';
import { registryScenario } from './registry.ts';
import { soakScenario } from './soak.ts';
import { tracingScenario } from './tracing.ts';
import { killAll } from './lib.ts';
import { failedRow, markdownTable, type Row } from './result.ts';

const scenarios: Record<string, () => Promise<Row[]>> = {
  ingest: () => ingestScenario(),
  journal: () => journalScenario(),
  fanout: () => fanoutScenario(),
  isolation: () => isolationScenario(),
  batch: () => batchScenario(),
  latency: () => latencyScenario(),
  memory: () => memoryScenario(),
  registry: () => registryScenario(),
  jetstream: () => jetstreamScenario(),
  history: () => historyScenario(),
  soak: () => soakScenario(),
  enrich: () => enrichScenario(),
  tracing: () => tracingScenario(),
};

const asked = process.argv.slice(2).filter((a) => a !== '--');
const unknown = asked.filter((a) => !(a in scenarios));
if (unknown.length > 0) {
  console.error(
    `unknown scenario ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`,
  );
  process.exit(2);
}
const names = asked.length > 0 ? asked : Object.keys(scenarios);
const machine = `${String(cpus().length)} cores (${cpus()[0]?.model ?? 'unknown'}), ${String(Math.round(totalmem() / 2 ** 30))} GiB, Node ${process.version}, ${process.platform}`;
console.log(`machine: ${machine}`);
const rows: Row[] = [];
const started = performance.now();
try {
  for (const name of names) {
    const t = performance.now();
    const run = scenarios[name];
    if (run === undefined) continue;
    try {
      rows.push(...(await run()));
      console.log(`  ${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) {
      // One scenario's failure is a row of the table, not the end of the run.
      rows.push(failedRow(name, err));
      console.log(`  ${name}: FAILED after ${((performance.now() - t) / 1000).toFixed(1)} s`);
      console.error(err);
      killAll();
    }
  }
} finally {
  killAll();
}
console.log(`\n${markdownTable(rows)}\n`);
console.log(`total: ${((performance.now() - started) / 1000).toFixed(0)} s`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(
  `./results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  import.meta.url,
);
writeFileSync(
  file,
  `${JSON.stringify({ machine, at: new Date().toISOString(), rows }, null, 2)}\n`,
);
console.log(`wrote ${file.pathname}`);
if (rows.some((r) => r.failed !== undefined)) process.exitCode = 1;
