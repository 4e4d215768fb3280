import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Clock } from '../core/clock.ts';
import { canonicalJson } from '../config/canonical.ts';
import type { RelayConfig } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { ConfigError } from '../core/errors.ts';
import type { ApplyReport, ReloadOutcome } from '../config/reload-outcome.ts';
import type { RelayMetrics } from '../metrics/registry.ts';

/**
 * Keys that a running relay cannot change: its listeners are bound and its storage is open.
 * A reload that changes one is refused whole, naming the keys, and changes nothing.
 */
export function liveChangeRefusals(current: RelayConfig, next: RelayConfig): string[] {
  const fixed: [string, unknown, unknown][] = [
    ['http.addr', current.http.addr, next.http.addr],
    ['http.debug.addr', current.http.debug.addr, next.http.debug.addr],
    ['http.maxBodySize', current.http.maxBodySize, next.http.maxBodySize],
    ['http.dedup', current.http.dedup, next.http.dedup],
    ['http.debug.attempts', current.http.debug.attempts, next.http.debug.attempts],
    ['http.debug.events', current.http.debug.events, next.http.debug.events],
    ['sources', current.sources, next.sources],
    ['registries', current.registries, next.registries],
    ['storage', current.storage, next.storage],
    ['telemetry', current.telemetry, next.telemetry],
  ];
  return fixed
    .filter(([, a, b]) => JSON.stringify(a) !== JSON.stringify(b))
    .map(([key]) => `${key}: cannot change while the relay runs; restart it to apply this change`);
}

/** A short digest of the config in force, to tell which one each relay runs. */
export function configHash(config: RelayConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12);
}

/** Counts and remembers reloads: the metrics, the log line, `relay.config` in /debug/vars. */
export class ConfigReloads {
  readonly #clock: Clock;
  readonly #total;
  readonly #lastSuccess;
  readonly #hashInfo;
  #hash: string;
  #loadedAt: number;
  #last: { at: string; outcome: ReloadOutcome } | undefined;
  #counts = { success: 0, failure: 0 };

  constructor(metrics: RelayMetrics, config: RelayConfig, clock: Clock) {
    this.#clock = clock;
    const registers = [metrics.register];
    this.#total = new Counter({
      name: 'relay_config_reloads_total',
      help: 'Config reloads (SIGHUP, `registry-relay reload`), by result.',
      labelNames: ['result'] as const,
      registers,
    });
    this.#total.labels('success').inc(0);
    this.#total.labels('failure').inc(0);
    this.#lastSuccess = new Gauge({
      name: 'relay_config_last_reload_success_timestamp_seconds',
      help: 'When the config in force was loaded (at start or by the last successful reload).',
      registers,
    });
    this.#hashInfo = new Gauge({
      name: 'relay_config_hash',
      help: 'The config in force, as a short digest in the hash label; always 1.',
      labelNames: ['hash'] as const,
      registers,
    });
    this.#hash = configHash(config);
    this.#loadedAt = this.#clock.now();
    this.#lastSuccess.set(this.#loadedAt / 1000);
    this.#hashInfo.labels(this.#hash).set(1);
  }

  succeeded(config: RelayConfig, report: ApplyReport, log: Logger): ReloadOutcome {
    const hash = configHash(config);
    this.#hashInfo.reset();
    this.#hashInfo.labels(hash).set(1);
    this.#hash = hash;
    this.#loadedAt = this.#clock.now();
    this.#lastSuccess.set(this.#loadedAt / 1000);
    this.#total.labels('success').inc();
    this.#counts.success += 1;
    const outcome: ReloadOutcome = { ok: true, hash, ...report };
    this.#last = { at: new Date(this.#loadedAt).toISOString(), outcome };
    log.info(
      { hash, added: report.added, changed: report.changed, removed: report.removed },
      `config reloaded: ${String(report.added.length)} added, ${String(report.changed.length)} changed, ${String(report.removed.length)} removed`,
    );
    return outcome;
  }

  failed(problems: readonly string[], log: Logger): ReloadOutcome {
    this.#total.labels('failure').inc();
    this.#counts.failure += 1;
    const outcome: ReloadOutcome = { ok: false, problems };
    this.#last = { at: new Date(this.#clock.now()).toISOString(), outcome };
    log.error(
      { problems, hash: this.#hash },
      `config reload failed, still running on the previous config:\n  ${problems.join('\n  ')}`,
    );
    return outcome;
  }

  /** `relay.config` in /debug/vars. */
  status() {
    return {
      hash: this.#hash,
      loadedAt: new Date(this.#loadedAt).toISOString(),
      reloads: { ...this.#counts },
      ...(this.#last === undefined ? {} : { last: { at: this.#last.at, ...this.#last.outcome } }),
    };
  }
}

/**
 * Reads `file` again and applies it (SIGHUP, `POST /api/v1/reload`), one reload at a time:
 * a second call waits for the first. An invalid file changes nothing and is counted.
 */
export function fileReloader(
  file: string,
  apply: (next: RelayConfig) => ReloadOutcome,
  reloads: ConfigReloads,
  log: Logger,
): () => Promise<ReloadOutcome> {
  let reloading: Promise<unknown> = Promise.resolve();
  return () => {
    const next = reloading.then(async () => {
      try {
        return apply(await loadConfig(file));
      } catch (err) {
        if (err instanceof ConfigError) return reloads.failed(err.problems, log);
        log.error({ err }, 'config reload failed unexpectedly; still on the previous config');
        return reloads.failed([err instanceof Error ? err.message : String(err)], log);
      }
    });
    reloading = next;
    return next;
  };
}
