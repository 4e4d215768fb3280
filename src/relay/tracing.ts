import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { tracingPlan } from '../config/telemetry.ts';
import type { RelayConfig } from '../config/schema.ts';
import { redactUrl } from '../core/redact.ts';
import type { Tracing } from '../core/tracing.ts';

/** This relay's name among several when none is given: host and pid. */
export const defaultInstance = (): string => `${hostname()}:${String(process.pid)}`;

/**
 * Tracing as `telemetry.tracing` and the OTEL_* variables ask, or undefined when off. The
 * OpenTelemetry SDK is loaded here, only when tracing is on: off, it costs no start-up time
 * and no memory (about 120 ms and 16 MB RSS to load it).
 */
export async function openTracing(
  config: RelayConfig,
  env: NodeJS.ProcessEnv,
  log: Logger,
  instance: string,
): Promise<Tracing | undefined> {
  const plan = tracingPlan(config.telemetry, env);
  if (plan === undefined) return undefined;
  const { SdkTracing } = await import('../telemetry/tracing.ts');
  const resource: Record<string, string> = { 'service.instance.id': instance, ...plan.resource };
  log.info(
    { url: redactUrl(plan.url), service: resource['service.name'], sampler: plan.sampler },
    'tracing: spans are exported over OTLP/HTTP',
  );
  return new SdkTracing({ ...plan, resource }, { log });
}
