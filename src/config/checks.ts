import { FILTER_FIELDS, compilePattern } from '../endpoint/filter.ts';
import { templateFormat } from '../endpoint/format/template.ts';
import { SIGNING_HEADERS } from '../endpoint/http.ts';
import { DEFAULTS } from './defaults.ts';
import { parseListenAddress, type ListenAddress } from './schema.ts';

/**
 * The checks that look across fields or across endpoints: duplicate names, filter
 * patterns, templates, batching against the format, signing against headers, the two
 * listeners. They read the document as written rather than the schema's output, so they
 * run in the same pass as the schema and `check-config` names every problem at once, not
 * the next batch after the first is fixed. A field of the wrong type is the schema's to
 * report; these checks skip it.
 */
export function crossChecks(input: unknown): Problem[] {
  const problems: Problem[] = [];
  const doc = record(input);
  checkListeners(record(doc?.['http']), problems);
  const storage = record(doc?.['storage']);
  if (
    storage?.['path'] !== undefined &&
    storage['nats'] !== undefined &&
    storage['nats'] !== null
  ) {
    problems.push({
      path: ['storage', 'nats'],
      message: 'storage.path (the SQLite journal) and storage.nats are two backends: choose one',
    });
  }
  const registries = Array.isArray(doc?.['registries']) ? (doc['registries'] as unknown[]) : [];
  const registryNames = new Set(
    registries.map((r) => record(r)?.['name']).filter((n) => typeof n === 'string'),
  );
  const sources = Array.isArray(doc?.['sources']) ? (doc['sources'] as unknown[]) : [];
  sources.forEach((raw, i) => {
    const named = record(raw)?.['registry'];
    if (typeof named === 'string' && !registryNames.has(named)) {
      problems.push({
        path: ['sources', i, 'registry'],
        message: `no registry is named ${named}: name one of registries[].name (${[...registryNames].join(', ') || 'none configured'})`,
      });
    }
  });
  const endpoints = record(doc?.['notifications'])?.['endpoints'];
  if (!Array.isArray(endpoints)) return problems;
  if (registries.length === 0) {
    endpoints.forEach((raw: unknown, i) => {
      const e = record(raw);
      const filter = record(e?.['filter']);
      const asks = ['platforms', 'artifactTypes', 'labels', 'signed'].filter(
        (f) => filter?.[f] !== undefined && filter[f] !== null,
      );
      if (e?.['enrich'] !== undefined && e['enrich'] !== null && e['enrich'] !== false)
        asks.unshift('enrich');
      if (asks.length > 0) {
        problems.push({
          path: ['notifications', 'endpoints', i, asks[0] === 'enrich' ? 'enrich' : 'filter'],
          message: `${asks.map((a) => (a === 'enrich' ? 'enrich' : `filter.${a}`)).join(', ')} needs facts from a registry: configure one under registries`,
        });
      }
    });
  }
  const seen = new Map<string, number>();
  endpoints.forEach((raw: unknown, i) => {
    const e = record(raw);
    if (e === undefined) return;
    const name = e['name'];
    if (typeof name === 'string' && name !== '') {
      const first = seen.get(name);
      if (first === undefined) seen.set(name, i);
      else
        problems.push({
          path: ['notifications', 'endpoints', i, 'name'],
          message: `duplicate endpoint name (also used by endpoints[${String(first)}])`,
        });
    }
    checkEndpoint(
      e,
      ['notifications', 'endpoints', i],
      typeof name === 'string' ? name : `#${String(i)}`,
      problems,
    );
  });
  return problems;
}

/** A problem at `path` (the loader adds the value found there, unless it may be a secret). */
export interface Problem {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function checkListeners(http: Record<string, unknown> | undefined, problems: Problem[]): void {
  const address = (v: unknown, fallback: string): ListenAddress | undefined =>
    parseListenAddress(typeof v === 'string' ? v : fallback);
  const ingest = address(http?.['addr'], DEFAULTS.http.addr);
  const ops = address(record(http?.['debug'])?.['addr'], DEFAULTS.http.debugAddr);
  if (ingest === undefined || ops === undefined || ingest.port === 0 || ingest.port !== ops.port)
    return;
  const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';
  if (ingest.host === ops.host || wildcard(ingest.host) || wildcard(ops.host)) {
    problems.push({
      path: ['http', 'debug', 'addr'],
      message: `the ops listener and ingest (http.addr) cannot share port ${String(ops.port)}; give each its own`,
    });
  }
}

function checkEndpoint(
  e: Record<string, unknown>,
  at: PropertyKey[],
  name: string,
  problems: Problem[],
): void {
  const who = `endpoint "${name}"`;
  const filter = record(e['filter']);
  for (const field of [...FILTER_FIELDS, 'platforms', 'artifactTypes']) {
    const value = filter?.[field];
    const lists: [string, unknown][] =
      typeof value === 'string' || Array.isArray(value)
        ? [['include', value]]
        : Object.entries(record(value) ?? {});
    for (const [which, list] of lists) {
      if (which !== 'include' && which !== 'exclude') continue;
      const patterns = typeof list === 'string' ? [list] : Array.isArray(list) ? list : [];
      patterns.forEach((pattern: unknown, j) => {
        if (typeof pattern !== 'string' || field === 'targets') return;
        try {
          compilePattern(pattern);
        } catch (err) {
          problems.push({
            path: [...at, 'filter', field, which, j],
            message: `${who}: ${errorText(err)}`,
          });
        }
      });
    }
  }

  for (const [label, pattern] of Object.entries(record(filter?.['labels']) ?? {})) {
    if (typeof pattern !== 'string') continue;
    try {
      compilePattern(pattern);
    } catch (err) {
      problems.push({
        path: [...at, 'filter', 'labels', label],
        message: `${who}: ${errorText(err)}`,
      });
    }
  }

  const format = e['format'];
  const formatType = typeof format === 'string' ? format : record(format)?.['type'];
  const rawMode = record(format)?.['mode'];
  const mode = typeof rawMode === 'string' ? rawMode : 'binary';
  if (formatType === 'template') {
    const spec = record(format);
    let body = spec?.['body'];
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body) as unknown;
      } catch {
        body = undefined; // The schema names a body that is not JSON.
      }
    }
    if (body !== undefined && body !== null) {
      try {
        const contentType = spec?.['contentType'];
        templateFormat(body, typeof contentType === 'string' ? contentType : 'application/json');
      } catch (err) {
        problems.push({ path: [...at, 'format', 'body'], message: `${who}: ${errorText(err)}` });
      }
    }
  }
  const maxEvents = record(e['batch'])?.['maxEvents'];
  if (typeof maxEvents === 'number' && maxEvents > 1) {
    if (formatType === 'template') {
      problems.push({
        path: [...at, 'batch', 'maxEvents'],
        message: `${who}: a template renders one event per request; remove batch`,
      });
    }
    if (formatType === 'cloudevents' && mode !== 'batched') {
      problems.push({
        path: [...at, 'batch', 'maxEvents'],
        message: `${who}: CloudEvents ${mode} mode carries one event per request; use format.mode: batched`,
      });
    }
  }
  const headers = record(e['headers']);
  if (record(record(e['auth'])?.['oauth2']) !== undefined) {
    // The token is the request's Authorization: another one would be overwritten or sent twice.
    for (const header of Object.keys(headers ?? {})) {
      if (header.toLowerCase() === 'authorization') {
        problems.push({
          path: [...at, 'headers', header],
          message: `${who}: auth.oauth2 sends the Authorization header; remove this one`,
        });
      }
    }
    let url: URL | undefined;
    try {
      url = typeof e['url'] === 'string' ? new URL(e['url']) : undefined;
    } catch {
      url = undefined; // The schema names a bad url.
    }
    if (url !== undefined && (url.username !== '' || url.password !== '')) {
      problems.push({
        path: [...at, 'url'],
        message: `${who}: auth.oauth2 sends the Authorization header; remove the credentials from the url`,
      });
    }
  }
  if (e['signing'] !== undefined && e['signing'] !== null && headers !== undefined) {
    for (const header of Object.keys(headers)) {
      if (SIGNING_HEADERS.has(header.toLowerCase())) {
        problems.push({
          path: [...at, 'headers', header],
          message: `${who}: the relay writes ${header.toLowerCase()} itself when signing`,
        });
      }
    }
  }
}
