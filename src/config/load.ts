import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { crossChecks } from './checks.ts';
import { configSchema, type RelayConfig } from './schema.ts';
import { ConfigError } from '../core/errors.ts';
import { tracingPlan } from './telemetry.ts';

type Path = readonly PropertyKey[];

export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) {
    // A filter list written as a bare list or pattern is its include list.
    if (key === 'include' && (typeof node === 'string' || Array.isArray(node))) continue;
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` inside every string of the parsed document with the environment's
 * value. Substitution happens after YAML parsing, so a value can never inject structure.
 */
export function substituteEnv(
  node: unknown,
  env: NodeJS.ProcessEnv,
  problems: string[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof node === 'string') {
    return node.replace(ENV_REF, (match, name: string) => {
      const value = env[name];
      if (value === undefined) {
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return match;
      }
      return value;
    });
  }
  if (Array.isArray(node)) return node.map((v, i) => substituteEnv(v, env, problems, [...path, i]));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node))
      out[k] = substituteEnv(v, env, problems, [...path, k]);
    return out;
  }
  return node;
}

// Values under these keys may be secrets: a problem there is named, its value never shown.
const SECRET_KEYS = new Set<PropertyKey>(['signing', 'headers', 'tokens', 'auth']);

function describeAt(input: unknown, path: Path): string {
  if (path.some((key) => SECRET_KEYS.has(key))) return '(value not shown: it may be a secret)';
  return `(got ${describe(valueAt(input, path))})`;
}

function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        lines.push(`${formatPath([...issue.path, key])}: unknown key (check its spelling)`);
      }
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // A union names each alternative's complaint; the first one says enough.
      const nested = issue.errors[0] ?? [];
      const withPath = nested.map((n) => ({ ...n, path: [...issue.path, ...n.path] }));
      if (issue.message.startsWith('expected a ')) {
        lines.push(`${formatPath(issue.path)}: ${issue.message} ${describeAt(input, issue.path)}`);
      } else {
        lines.push(...describeIssues(withPath, input));
      }
      continue;
    }
    lines.push(`${formatPath(issue.path)}: ${issue.message} ${describeAt(input, issue.path)}`);
  }
  return [...new Set(lines)];
}

/** Parses and validates config text. Throws ConfigError naming every problem found. */
export function parseConfig(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): RelayConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0] ?? e.message}`),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, [`(top level): expected a mapping (got ${describe(raw)})`]);
  }
  const problems: string[] = [];
  const input = substituteEnv(raw, env, problems);
  const result = configSchema.safeParse(input);
  if (!result.success) problems.push(...describeIssues(result.error.issues, input));
  // The OTEL_* variables the relay would trace with, checked with the file.
  if (result.success) tracingPlan(result.data.telemetry, env, problems);
  // In the same pass, so that every problem is named at once.
  for (const p of crossChecks(input)) {
    problems.push(`${formatPath(p.path)}: ${p.message} ${describeAt(input, p.path)}`);
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems);
  return result.data;
}

export async function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RelayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(file, [`cannot read the file: ${reason}`]);
  }
  return parseConfig(text, file, env);
}
