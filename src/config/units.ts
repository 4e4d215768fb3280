import { SinceError } from '../core/errors.ts';
// Parsers for the unit-bearing values a registry config uses, with the registry's meaning.

const DURATION_UNITS_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  // Not Go's: retention bounds such as storage.nats.maxAge read better in days ("7d").
  d: 86_400e9,
};

const DURATION_PART = /([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/gy;

/**
 * Parses a Go duration string (`500ms`, `1m30s`, `1.5h`) into nanoseconds, as Go's
 * `time.ParseDuration` does, plus days (`7d`). A bare number, as in the registry's YAML,
 * is nanoseconds.
 * Returns undefined when the text is not a duration.
 */
export function parseGoDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (text === '0') return 0;
  if (text === '' || text.startsWith('-')) return undefined;
  const body = text.startsWith('+') ? text.slice(1) : text;
  let total = 0;
  let consumed = 0;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(body); m !== null; m = DURATION_PART.exec(body)) {
    const [whole, digits = '', unit = ''] = m;
    const scale = DURATION_UNITS_NS[unit];
    if (scale === undefined || digits === '' || digits === '.') return undefined;
    total += Number(digits) * scale;
    consumed += whole.length;
  }
  if (consumed !== body.length || consumed === 0) return undefined;
  return Math.round(total);
}

/** Formats nanoseconds the way Go prints a duration, for logs and errors. */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${ns / 1e3}µs`;
  if (ns < 1e9) return `${ns / 1e6}ms`;
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  tb: 1e12,
};

/** Parses `1MiB`, `512KiB`, `10GB` or a bare byte count. Undefined when not a size. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const scale = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (scale === undefined) return undefined;
  return Math.floor(Number(m[1]) * scale);
}

/** `since`: "24h" (back from now) or anything Date.parse reads; epoch ms. */
export function parseSince(text: string, now: number): number {
  const ns = parseGoDuration(text);
  if (ns !== undefined && ns > 0) return now - ns / 1e6;
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    throw new SinceError(`since ${JSON.stringify(text)}: not a duration ("24h") nor a date`);
  }
  return at;
}
