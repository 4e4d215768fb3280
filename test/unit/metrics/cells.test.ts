// Cells export exactly what prom-client's own series export for the same observations:
// the /metrics text of a cell metric and of a plain prom-client metric fed the same values
// are the same, and remove() and reset() drop cells as they drop series.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CellCounter, CellGauge, CellHistogram } from '../../../src/metrics/cells.ts';

const BUCKETS = [0.001, 0.01, 0.1, 1];

function pair() {
  const plain = new Registry();
  const cells = new Registry();
  const labelNames = ['endpoint', 'outcome'] as const;
  const config = (name: string) => ({ name, help: `${name} help`, labelNames });
  return {
    plain,
    cells,
    counter: new Counter({ ...config('c_total'), registers: [plain] }),
    cellCounter: new CellCounter({ ...config('c_total'), registers: [cells] }),
    gauge: new Gauge({ ...config('g'), registers: [plain] }),
    cellGauge: new CellGauge({ ...config('g'), registers: [cells] }),
    histogram: new Histogram({ ...config('h_seconds'), buckets: BUCKETS, registers: [plain] }),
    cellHistogram: new CellHistogram({
      ...config('h_seconds'),
      buckets: BUCKETS,
      registers: [cells],
    }),
  };
}

describe('metric cells', () => {
  it('export the same text as prom-client series fed the same values', async () => {
    const m = pair();
    const values = [0.0005, 0.001, 0.002, 0.05, 0.5, 3, 0.01, 1];
    // A series made through prom-client's own API on a cell metric is exported too (before
    // the cells).
    m.counter.inc({ endpoint: 'c', outcome: 'success' }, 5);
    m.cellCounter.inc({ endpoint: 'c', outcome: 'success' }, 5);
    for (const endpoint of ['a', 'b']) {
      for (const outcome of ['success', 'error']) {
        const labels = { endpoint, outcome };
        const counter = m.cellCounter.cell(labels);
        const gauge = m.cellGauge.cell(labels);
        const histogram = m.cellHistogram.cell(labels);
        m.counter.inc(labels, 0);
        counter.inc(0);
        m.gauge.set(labels, 0);
        for (const v of values) {
          m.counter.inc(labels);
          counter.inc();
          m.gauge.inc(labels, 2);
          gauge.inc(2);
          m.gauge.dec(labels);
          gauge.dec();
          m.histogram.observe(labels, v);
          histogram.observe(v);
        }
      }
    }
    assert.equal(await m.cells.metrics(), await m.plain.metrics());
    // The JSON form (get()) as well.
    assert.deepEqual(await m.cells.getMetricsAsJSON(), await m.plain.getMetricsAsJSON());
  });

  it('the same labels give the same cell; remove() and reset() drop cells', async () => {
    const m = pair();
    const one = m.cellHistogram.cell({ endpoint: 'a', outcome: 'success' });
    assert.equal(m.cellHistogram.cell({ outcome: 'success', endpoint: 'a' }), one);
    one.observe(0.2);
    m.cellCounter.cell({ endpoint: 'a', outcome: 'x' }).inc(3);
    m.cellCounter.cell({ endpoint: 'b', outcome: 'x' }).inc(4);
    m.cellGauge.cell({ endpoint: 'a', outcome: 'x' }).set(7);
    m.cellHistogram.remove('a', 'success');
    m.cellCounter.remove({ endpoint: 'a', outcome: 'x' });
    m.cellGauge.reset();
    const text = await m.cells.metrics();
    assert.doesNotMatch(text, /h_seconds_count\{/);
    assert.doesNotMatch(text, /c_total\{endpoint="a"/);
    assert.match(text, /c_total\{endpoint="b",outcome="x"\} 4/);
    assert.doesNotMatch(text, /^g\{/m);
  });

  it('a histogram cell ignores a value that is not a number', async () => {
    const m = pair();
    const cell = m.cellHistogram.cell({ endpoint: 'a', outcome: 'success' });
    cell.observe(Number.NaN);
    cell.observe(0.5);
    assert.match(await m.cells.metrics(), /h_seconds_count\{endpoint="a",outcome="success"\} 1/);
  });
});
