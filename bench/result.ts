/** One line of the benchmark table: the relay's figure against a same-run baseline. */
export interface Row {
  scenario: string;
  figure: string;
  relay: number;
  unit: string;
  baseline?: number;
  /** relay / baseline (for times, where less is better: baseline / relay). */
  ratio?: number;
  /** The target, as text (e.g. "≥ 0.6"), and whether this run met it. */
  target?: string;
  met?: boolean;
  /** Set when the scenario failed: why. The other figures are then meaningless. */
  failed?: string;
}

/** The row a failed scenario leaves in the table, so that the others still print. */
export function failedRow(scenario: string, err: unknown): Row {
  const why = err instanceof Error ? err.message : String(err);
  return { scenario, figure: '', relay: Number.NaN, unit: '', failed: why.split('\n')[0] ?? why };
}

export function compare(base: Omit<Row, 'ratio' | 'met'>, minRatio?: number): Row {
  if (base.baseline === undefined || minRatio === undefined) return base;
  const ratio = base.relay / base.baseline;
  return { ...base, ratio, target: `≥ ${String(minRatio)}`, met: ratio >= minRatio };
}

/** Where less is better (a time): ratio = baseline / relay, so higher is better again. */
export function compareTime(base: Omit<Row, 'ratio' | 'met'>, minRatio?: number): Row {
  const ratio = (base.baseline ?? 0) / base.relay;
  if (minRatio === undefined) return { ...base, ratio };
  return { ...base, ratio, target: `≥ ${String(minRatio)}`, met: ratio >= minRatio };
}

/** An absolute ceiling on the relay's figure; the baseline, if any, is for reference. */
export function atMost(base: Omit<Row, 'ratio' | 'met' | 'target'>, max: number): Row {
  const ratio = base.baseline === undefined ? undefined : base.relay / base.baseline;
  return {
    ...base,
    ...(ratio === undefined ? {} : { ratio }),
    target: `≤ ${fmt(max)} ${base.unit}`,
    met: base.relay <= max,
  };
}

const fmt = (n: number): string =>
  Number.isInteger(n) || Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);

export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    '| scenario | figure | relay | baseline | ratio | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    if (r.failed !== undefined) {
      lines.push(
        `| ${r.scenario} | failed: ${r.failed.replaceAll('|', '\\|')} | | | | | **failed** |`,
      );
      continue;
    }
    lines.push(
      `| ${r.scenario} | ${r.figure} | ${fmt(r.relay)} ${r.unit} | ${r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit}`} | ${r.ratio === undefined ? '' : r.ratio.toFixed(2)} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}
