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

/** The label set's key: its values in the metric's label order. */
function keyOf<T extends string>(names: readonly T[], labels: Labels<T>): string {
  return names.map((n) => labels[n]).join('\u0000');
}

/** A labelled series of the metric whose values its label names list, in that order. */
function ordered<T extends string>(names: readonly T[], labels: Labels<T>): LabelValues<T> {
  const out: LabelValues<T> = {};
  for (const n of names) out[n] = labels[n];
  return out;
}

/** The label values `remove(...values)` names, as a label set. */
function removed<T extends string>(
  names: readonly T[],
  args: readonly (string | number | LabelValues<T>)[],
): string | undefined {
  const [first] = args;
  if (args.length === 1 && typeof first === 'object') {
    return names.map((n) => String(first[n])).join('\u0000');
  }
  if (args.length !== names.length) return undefined;
  return args.map(String).join('\u0000');
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

/** A counter whose hot series are cells. */
export class CellCounter<T extends string> extends Counter<T> {
  readonly #names: readonly T[];
  readonly #cells = new Map<string, { labels: LabelValues<T>; cell: CounterCell }>();

  constructor(config: CounterConfiguration<T> & { labelNames: readonly T[] }) {
    super(config);
    this.#names = config.labelNames;
  }

  /** The series of `labels` as a cell (the same cell for the same labels). */
  cell(labels: Labels<T>): CounterCell {
    const key = keyOf(this.#names, labels);
    let found = this.#cells.get(key);
    if (found === undefined) {
      found = { labels: ordered(this.#names, labels), cell: new CounterCell() };
      this.#cells.set(key, found);
    }
    return found.cell;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const metric = await super.get();
    const cells = [...this.#cells.values()].map(({ labels, cell }) => ({
      labels,
      value: cell.value,
    }));
    return { ...metric, values: [...metric.values, ...cells] };
  }

  override remove(...args: (string | number | LabelValues<T>)[]): void {
    const key = removed(this.#names, args);
    if (key !== undefined) this.#cells.delete(key);
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
  readonly #names: readonly T[];
  readonly #cells = new Map<string, { labels: LabelValues<T>; cell: GaugeCell }>();

  constructor(config: GaugeConfiguration<T> & { labelNames: readonly T[] }) {
    super(config);
    this.#names = config.labelNames;
  }

  cell(labels: Labels<T>): GaugeCell {
    const key = keyOf(this.#names, labels);
    let found = this.#cells.get(key);
    if (found === undefined) {
      found = { labels: ordered(this.#names, labels), cell: new GaugeCell() };
      this.#cells.set(key, found);
    }
    return found.cell;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const metric = await super.get();
    const cells = [...this.#cells.values()].map(({ labels, cell }) => ({
      labels,
      value: cell.value,
    }));
    return { ...metric, values: [...metric.values, ...cells] };
  }

  override remove(...args: (string | number | LabelValues<T>)[]): void {
    const key = removed(this.#names, args);
    if (key !== undefined) this.#cells.delete(key);
    super.remove(...(args as [LabelValues<T>]));
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
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
  readonly #names: readonly T[];
  readonly #bounds: readonly number[];
  readonly #cells = new Map<string, { labels: LabelValues<T>; cell: HistogramCell }>();
  readonly #name: string;

  constructor(
    config: HistogramConfiguration<T> & { labelNames: readonly T[]; buckets: readonly number[] },
  ) {
    super({ ...config, buckets: [...config.buckets] });
    this.#name = config.name;
    this.#names = config.labelNames;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
  }

  cell(labels: Labels<T>): HistogramCell {
    const key = keyOf(this.#names, labels);
    let found = this.#cells.get(key);
    if (found === undefined) {
      found = { labels: ordered(this.#names, labels), cell: new HistogramCell(this.#bounds) };
      this.#cells.set(key, found);
    }
    return found.cell;
  }

  /** Each cell's values as prom-client's own histogram exports them (labels not yet splayed). */
  #exported(): Exported<T>[] {
    const out: Exported<T>[] = [];
    const bucket = `${this.#name}_bucket`;
    for (const { labels, cell } of this.#cells.values()) {
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
    const key = removed(this.#names, args);
    if (key !== undefined) this.#cells.delete(key);
    super.remove(...(args as [LabelValues<T>]));
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#cells in this) this.#cells.clear();
    super.reset();
  }
}
