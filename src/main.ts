#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.ts';
import { JOURNAL_USAGE, runJournalCommand } from './cli/storage-commands.ts';
import { createLogger } from './core/logger.ts';
import type { RelayConfig } from './config/schema.ts';
import { reloadRunning, writePidFile } from './cli/reload-command.ts';
import { startRelay } from './relay/server.ts';
import {
  ConfigError,
  NatsUnavailableError,
  ReloadCommandError,
  UsageError,
} from './core/errors.ts';

const USAGE = `usage:
  registry-relay --config FILE      run the relay (or set RELAY_CONFIG=FILE)
  registry-relay check-config FILE  validate FILE; exit 0 if valid, 2 if not
  registry-relay reload --config FILE
                                    apply FILE to the relay running on it (SIGHUP), say how it went
${JOURNAL_USAGE}
  registry-relay --version
  registry-relay --help`;

function version(): string {
  // package.json sits one level above both src/ and dist/.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

// A reader that goes away (`| head`) is not an error: stop writing and leave quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

/** Writes `message` to stderr and gives `code` back, for `return fail(…)`. */
function fail(message: string, code: number): number {
  process.stderr.write(`${message}\n`);
  return code;
}

/** A usage mistake: what was wrong, then the usage; exit 2. */
function usage(message: string): number {
  return fail(`${message}\n${USAGE}`, 2);
}

function configFromEnv(): string | undefined {
  const file = process.env['RELAY_CONFIG'];
  return file === '' ? undefined : file;
}

/**
 * The config in `file`, or undefined once an invalid one has been reported (exit 2), with
 * `then` said after the problems. Every command reads its config through here.
 */
async function configFrom(file: string, then?: string): Promise<RelayConfig | undefined> {
  try {
    return await loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(then === undefined ? err.message : `${err.message}\n${then}`, 2);
    return undefined;
  }
}

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or invalid config. */
async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        endpoint: { type: 'string' },
        since: { type: 'string' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version === true) {
    process.stdout.write(`registry-relay ${version()}\n`);
    return 0;
  }

  const command = positionals[0];
  if (command === 'check-config') {
    const file = positionals[1] ?? values.config;
    if (file === undefined || positionals.length > 2)
      return usage('check-config needs exactly one FILE');
    const config = await configFrom(file);
    if (config === undefined) return 2;
    const names = config.notifications.endpoints.map((e) => e.name).join(', ');
    process.stdout.write(
      `${file}: valid (${config.notifications.endpoints.length} endpoints: ${names})\n`,
    );
    return 0;
  }
  if (command === 'reload') {
    const file = values.config ?? positionals[1] ?? configFromEnv();
    if (file === undefined) return usage('reload needs --config FILE');
    const config = await configFrom(file, 'not sent: the running relay keeps its config');
    if (config === undefined) return 2;
    try {
      const { ok, lines } = await reloadRunning(file, config);
      for (const line of lines) process.stdout.write(`${line}\n`);
      return ok ? 0 : 1;
    } catch (err) {
      if (err instanceof ReloadCommandError) return fail(err.message, 1);
      throw err;
    }
  }
  if (command === 'dead-letters' || command === 'journal') {
    const file = values.config ?? configFromEnv();
    if (file === undefined) return usage(`${command} needs --config FILE`);
    const config = await configFrom(file);
    if (config === undefined) return 2;
    try {
      await runJournalCommand(
        command,
        positionals[1],
        { endpoint: values.endpoint, since: values.since },
        config,
        (line) => process.stdout.write(`${line}\n`),
        (line) => process.stderr.write(`${line}\n`),
      );
      return 0;
    } catch (err) {
      if (err instanceof UsageError) return fail(err.message, 2);
      if (err instanceof NatsUnavailableError) return fail(err.message, 1);
      throw err;
    }
  }
  if (command !== undefined) return usage(`unknown command ${JSON.stringify(command)}`);

  const file = values.config ?? configFromEnv();
  if (file === undefined) return usage('no config: pass --config FILE or set RELAY_CONFIG');
  const config = await configFrom(file);
  if (config === undefined) return 2;

  const log = createLogger(config.log.level);
  let running;
  try {
    running = await startRelay(config, { log, configFile: file });
  } catch (err) {
    log.fatal({ err }, `cannot start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const running_ = running;
  const removePidFile = writePidFile(file);
  process.on('exit', removePidFile);
  // SIGHUP: read the file again and apply it; an invalid file changes nothing.
  process.on('SIGHUP', () => {
    log.info({ config: file }, 'SIGHUP: reloading the config');
    void running_.relay.reloadFromFile?.();
  });
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting without waiting for the drain');
        resolve(1);
        return;
      }
      log.info({ signal }, 'signal received');
      running_.stop().then(
        () => {
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Flush stdout (pino writes synchronously) and leave; stragglers must not hold us up.
    setImmediate(() => process.exit(code)).unref();
  },
  (err: unknown) => {
    process.stderr.write(
      `registry-relay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
