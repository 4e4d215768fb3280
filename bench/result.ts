/** One line of the benchmark table: the relay's figure against a same-run baseline. */
export interface Row {
  scenario: string;
  figure: string;
  relay: number;
  unit: string;
  baseline?: number;
  /** relay / baseline, or baseline / relay where smaller is better (see `lowerIsBetter`). */
  ratio?: number;
  /** The target, as text (e.g. "≥ 0.6"), and whether this run met it. */
  target?: string;
  met?: boolean;
}

export function compare(base: Omit<Row, 'ratio' | 'met'>, minRatio?: number): Row {
  if (base.baseline === undefined || minRatio === undefined) return base;
  const ratio = base.relay / base.baseline;
  return { ...base, ratio, target: `≥ ${String(minRatio)}`, met: ratio >= minRatio };
}

const fmt = (n: number): string =>
  Number.isInteger(n) || Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);

export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    '| scenario | figure | relay | baseline | ratio | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.figure} | ${fmt(r.relay)} ${r.unit} | ${r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit}`} | ${r.ratio === undefined ? '' : r.ratio.toFixed(2)} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}
