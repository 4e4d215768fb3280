import { z } from 'zod';
import type { SamplerPlan, TracingPlan } from '../telemetry/tracing.ts';
import { nullToUndefined } from './fields.ts';

/** OTLP/HTTP's standard port and path (the SDK's default). */
const DEFAULT_URL = 'http://localhost:4318/v1/traces';
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * `telemetry.tracing`: OpenTelemetry traces over OTLP/HTTP. Every field may instead come
 * from the standard `OTEL_*` variables; a field set here wins over its variable.
 */
export const telemetrySchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject({
      tracing: z.preprocess(
        nullToUndefined,
        z
          .strictObject({
            /** Unset: on when OTEL_TRACES_EXPORTER is otlp or an OTLP endpoint variable is set. */
            enabled: z.boolean().optional(),
            /** The OTLP/HTTP traces URL, path included. */
            endpoint: z
              .url({
                protocol: /^https?$/,
                error: 'expected the http(s):// URL of the OTLP/HTTP traces receiver',
              })
              .optional(),
            headers: z.record(z.string(), z.string()).optional(),
            serviceName: z.string().min(1).optional(),
            /** Share of new traces kept, 0 to 1; a sender's sampled flag is followed. */
            sampleRatio: z.number().min(0).max(1).optional(),
          })
          .prefault({}),
      ),
    })
    .prefault({}),
);

export type TelemetryConfig = z.output<typeof telemetrySchema>;

const env1 = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
};

/**
 * `key=value,key2=value2`, each side percent-decoded, as the OTEL_* header and resource
 * variables are written; a malformed entry is a problem naming the variable.
 */
function keyValues(
  env: NodeJS.ProcessEnv,
  name: string,
  problems: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  const text = env1(env, name);
  if (text === undefined) return out;
  for (const entry of text.split(',')) {
    if (entry.trim() === '') continue;
    const cut = entry.indexOf('=');
    const key = cut < 0 ? '' : entry.slice(0, cut).trim();
    try {
      if (key === '') throw new Error('no key');
      out[decodeURIComponent(key)] = decodeURIComponent(entry.slice(cut + 1).trim());
    } catch {
      problems.push(`${name}: "${entry.trim()}" is not key=value (percent-encoded)`);
    }
  }
  return out;
}

function wanted(config: TelemetryConfig, env: NodeJS.ProcessEnv, problems: string[]): boolean {
  const { enabled } = config.tracing;
  if (enabled !== undefined) return enabled;
  if (env1(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return false;
  const exporters = env1(env, 'OTEL_TRACES_EXPORTER');
  if (exporters !== undefined) {
    const names = exporters.split(',').map((s) => s.trim().toLowerCase());
    if (names.includes('none')) return false;
    const other = names.filter((n) => n !== 'otlp');
    if (other.length > 0) {
      problems.push(
        `OTEL_TRACES_EXPORTER: ${other.join(', ')} is not an exporter the relay has; use "otlp" (or "none")`,
      );
    }
    return names.includes('otlp');
  }
  return (
    env1(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined ||
    env1(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined
  );
}

function urlFrom(config: TelemetryConfig, env: NodeJS.ProcessEnv, problems: string[]): string {
  if (config.tracing.endpoint !== undefined) return config.tracing.endpoint;
  const checked = (name: string, url: string): string => {
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
    } catch {
      // Named below.
    }
    problems.push(`${name}: "${url}" is not an http(s) URL`);
    return DEFAULT_URL;
  };
  const traces = env1(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) return checked('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces);
  const base = env1(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (base !== undefined) {
    // The base URL gets the signal's path, as the specification says.
    return checked('OTEL_EXPORTER_OTLP_ENDPOINT', `${base.replace(/\/+$/, '')}/v1/traces`);
  }
  return DEFAULT_URL;
}

function protocolCheck(env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const v = env1(env, name);
    if (v === undefined) continue;
    if (v !== 'http/json' && v !== 'http/protobuf') {
      problems.push(`${name}: "${v}" is not spoken by the relay; it exports OTLP over HTTP`);
    }
    return;
  }
}

function samplerFrom(
  config: TelemetryConfig,
  env: NodeJS.ProcessEnv,
  problems: string[],
): SamplerPlan {
  const ratio = config.tracing.sampleRatio;
  if (ratio !== undefined) return { root: 'traceidratio', ratio, parentBased: true };
  const name = env1(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  const arg = env1(env, 'OTEL_TRACES_SAMPLER_ARG');
  const parentBased = name.startsWith('parentbased_');
  const root = parentBased ? name.slice('parentbased_'.length) : name;
  if (root !== 'always_on' && root !== 'always_off' && root !== 'traceidratio') {
    problems.push(
      `OTEL_TRACES_SAMPLER: "${name}" is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio`,
    );
    return { root: 'always_on', ratio: 1, parentBased: true };
  }
  let r = 1;
  if (root === 'traceidratio' && arg !== undefined) {
    r = Number(arg);
    if (!Number.isFinite(r) || r < 0 || r > 1) {
      problems.push(`OTEL_TRACES_SAMPLER_ARG: "${arg}" is not a ratio between 0 and 1`);
      r = 1;
    }
  }
  return { root, ratio: r, parentBased };
}

function timeoutFrom(env: NodeJS.ProcessEnv, problems: string[]): number {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT']) {
    const v = env1(env, name);
    if (v === undefined) continue;
    const ms = Number(v);
    if (Number.isInteger(ms) && ms > 0) return ms;
    problems.push(`${name}: "${v}" is not a number of milliseconds`);
  }
  return DEFAULT_TIMEOUT_MS;
}

/**
 * The tracing plan from `telemetry.tracing` and the environment, or undefined when tracing
 * is off. Problems (a variable the relay cannot honour) are named in `problems`.
 */
export function tracingPlan(
  config: TelemetryConfig,
  env: NodeJS.ProcessEnv,
  problems: string[] = [],
): TracingPlan | undefined {
  if (!wanted(config, env, problems)) return undefined;
  protocolCheck(env, problems);
  const resource: Record<string, string> = {
    ...keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES', problems),
  };
  resource['service.name'] =
    config.tracing.serviceName ??
    env1(env, 'OTEL_SERVICE_NAME') ??
    resource['service.name'] ??
    'registry-relay';
  return {
    url: urlFrom(config, env, problems),
    headers: {
      ...keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS', problems),
      ...keyValues(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', problems),
      ...config.tracing.headers,
    },
    resource,
    sampler: samplerFrom(config, env, problems),
    timeoutMs: timeoutFrom(env, problems),
  };
}
