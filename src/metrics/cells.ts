import {
  Counter,
  Gauge,
  Histogram,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValueWithName,
} from 'prom-client';

// prom-client validates and hashes the labels of a child on every inc() or observe(),
// even for a child bound once with labels(): 7 % of a delivery's CPU for the five series
// each delivery touches. A cell is one label set's value as a plain number, bumped on the
// hot path with no lookup; the metric reads its cells when it is scraped. The metrics stay
// prom-client's (registered, named and formatted by it), and series made through its own
// API (labels(), inc(labels)) are exported beside the cells as before.

type Labels<T extends string> = Readonly<Record<T, string>>;

/** A metric's cells by label set: found, listed, and dropped as prom-client drops series. */
class Cells<T extends string, C> {
  readonly #names: readonly T[];
  readonly #make: () => C;
  readonly #cells = new Map<string, { labels: LabelValues<T>; cell: C }>();

  constructor(names: readonly T[], make: () => C) {
    this.#names = names;
    this.#make = make;
  }

  /** The series of `labels` as a cell (the same cell for the same labels). */
  cell(labels: Labels<T>): C {
    const key = this.#names.map((n) => labels[n]).join('\u0000');
    let found = this.#cells.get(key);
    if (found === undefined) {
      // The labels in the metric's order, as prom-client exports its own series.
      const ordered: LabelValues<T> = {};
      for (const n of this.#names) ordered[n] = labels[n];
      found = { labels: ordered, cell: this.#make() };
      this.#cells.set(key, found);
    }
    return found.cell;
  }

  entries(): IterableIterator<{ labels: LabelValues<T>; cell: C }> {
    return this.#cells.values();
  }

  /** Drops the cell `remove(...values)` names (the values in order, or one label set). */
  remove(args: readonly (string | number | LabelValues<T>)[]): void {
    const [first] = args;
    if (args.length === 1 && typeof first === 'object') {
      this.#cells.delete(this.#names.map((n) => String(first[n])).join('\u0000'));
    } else if (args.length === this.#names.length) {
      this.#cells.delete(args.map(String).join('\u0000'));
    }
  }

  clear(): void {
    this.#cells.clear();
  }
}

export class CounterCell {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

export class GaugeCell {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
  set(v: number): void {
    this.value = v;
  }
}

/** A counter or gauge's exported values: its own series, then its cells'. */
function withCells<T extends string>(
  metric: MetricObjectWithValues<MetricValueWithName<T>>,
  cells: Cells<T, { value: number }>,
): MetricObjectWithValues<MetricValueWithName<T>> {
  const values = [...cells.entries()].map(({ labels, cell }) => ({ labels, value: cell.value }));
  return { ...metric, values: [...metric.values, ...values] };
}

/** A counter whose hot series are cells. */
export class CellCounter<T extends string> extends Counter<T> {
  readonly #cells: Cells<T, CounterCell>;

  constructor(config: CounterConfiguration<T> & { labelNames: readonly T[] }) {
    super(config);
    this.#cells = new Cells(config.labelNames, () => new CounterCell());
  }

  cell(labels: Labels<T>): CounterCell {
    return this.#cells.cell(labels);
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    return withCells(await super.get(), this.#cells);
  }

  override remove(...args: (string | number | LabelValues<T>)[]): void {
    this.#cells.remove(args);
    super.remove(...(args as [LabelValues<T>]));
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#cells in this) this.#cells.clear();
    super.reset();
  }
}

/** A gauge whose hot series are cells. */
export class CellGauge<T extends string> extends Gauge<T> {
  readonly #cells: Cells<T, GaugeCell>;

  constructor(config: GaugeConfiguration<T> & { labelNames: readonly T[] }) {
    super(config);
    this.#cells = new Cells(config.labelNames, () => new GaugeCell());
  }

  cell(labels: Labels<T>): GaugeCell {
    return this.#cells.cell(labels);
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    return withCells(await super.get(), this.#cells);
  }

  override remove(...args: (string | number | LabelValues<T>)[]): void {
    this.#cells.remove(args);
    super.remove(...(args as [LabelValues<T>]));
  }

  override reset(): void {
    // As for the counter: called by prom-client's constructor first.
    if (#cells in this) this.#cells.clear();
    super.reset();
  }
}

export class HistogramCell {
  readonly #bounds: readonly number[];
  /** Observations per bucket, not cumulative; one more slot for those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] ?? Infinity)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }
}

/** What prom-client's histogram exports per value (a bucket, the sum, the count). */
interface Exported<T extends string> {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: LabelValues<T>;
  readonly value: number;
  readonly metricName: string;
  readonly exemplar: null | undefined;
}

/** prom-client's histogram method (15.1) that the registry formats /metrics from. */
interface PromStringSource {
  getForPromString(this: unknown): Promise<{ values: unknown[] }>;
}

/** A histogram whose hot series are cells. */
export class CellHistogram<T extends string> extends Histogram<T> {
  readonly #bounds: readonly number[];
  readonly #cells: Cells<T, HistogramCell>;
  readonly #name: string;

  constructor(
    config: HistogramConfiguration<T> & { labelNames: readonly T[]; buckets: readonly number[] },
  ) {
    super({ ...config, buckets: [...config.buckets] });
    this.#name = config.name;
    const bounds = [...config.buckets].sort((a, b) => a - b);
    this.#bounds = bounds;
    this.#cells = new Cells(config.labelNames, () => new HistogramCell(bounds));
  }

  cell(labels: Labels<T>): HistogramCell {
    return this.#cells.cell(labels);
  }

  /** Each cell's values as prom-client's own histogram exports them (labels not yet splayed). */
  #exported(): Exported<T>[] {
    const out: Exported<T>[] = [];
    const bucket = `${this.#name}_bucket`;
    for (const { labels, cell } of this.#cells.entries()) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += cell.counts[i] ?? 0;
        out.push({
          labels: { le },
          sharedLabels: labels,
          value: acc,
          metricName: bucket,
          exemplar: null,
        });
      });
      out.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: labels,
          value: cell.count,
          metricName: bucket,
          exemplar: null,
        },
        {
          labels: {},
          sharedLabels: labels,
          value: cell.sum,
          metricName: `${this.#name}_sum`,
          exemplar: undefined,
        },
        {
          labels: {},
          sharedLabels: labels,
          value: cell.count,
          metricName: `${this.#name}_count`,
          exemplar: undefined,
        },
      );
    }
    return out;
  }

  /**
   * What the registry formats /metrics from (prom-client calls this when a metric has it,
   * and get() is built on it): the series made through prom-client's API, then the cells'.
   */
  async getForPromString(): Promise<{ values: unknown[] }> {
    const base = Histogram.prototype as unknown as PromStringSource;
    const own = await base.getForPromString.call(this);
    return { ...own, values: [...own.values, ...this.#exported()] };
  }

  override remove(...args: (string | number | LabelValues<T>)[]): void {
    this.#cells.remove(args);
    super.remove(...(args as [LabelValues<T>]));
  }

  override reset(): void {
    // As for the counter: called by prom-client's constructor first.
    if (#cells in this) this.#cells.clear();
    super.reset();
  }
}
