import { readFileSync } from 'node:fs';
import {
  AuthorizationError,
  PermissionViolationError,
  UserAuthenticationExpiredError,
} from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { RelayConfig } from '../config/schema.ts';
import { NatsStorage, type NatsStorageOptions } from '../nats/storage.ts';
import { NatsUnavailableError } from '../core/errors.ts';

type NatsConfig = NonNullable<RelayConfig['storage']['nats']>;

/** The relay's NATS settings as the storage and the CLI use them (reads the key files). */
function natsOptions(config: RelayConfig, nats: NatsConfig, clock: Clock): NatsStorageOptions {
  return {
    clock,
    servers: nats.servers,
    stream: nats.stream,
    replicas: nats.replicas,
    maxAgeMs: nats.maxAge / 1e6,
    maxBytes: nats.maxBytes,
    duplicateWindowMs: Math.max(1000, config.http.dedup.window / 1e6),
    ackWaitMs: nats.ackWait / 1e6,
    token: nats.token,
    user: nats.user,
    password: nats.password,
    credentials: nats.credentials === undefined ? undefined : readFileSync(nats.credentials),
    nkeySeed:
      nats.nkey === undefined
        ? undefined
        : new TextEncoder().encode(readFileSync(nats.nkey, 'utf8').trim()),
    tls: nats.tls,
    name: 'registry-relay',
  };
}

/** Why NATS could not be used, naming the servers. */
function natsError(nats: NatsConfig, err: unknown): NatsUnavailableError {
  const reason = err instanceof Error ? err.message : String(err);
  return new NatsUnavailableError(
    `storage.nats: cannot use ${nats.servers.join(', ')}: ${reason}`,
    { cause: err },
  );
}

/**
 * Failures that waiting cannot mend: the server refused who we are, or we refuse the
 * server's certificate. Everything else (refused connections, timeouts, a JetStream that
 * has no leader yet or answers 503) is worth another try while `startTimeout` lasts.
 */
function isPermanent(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (
      e instanceof AuthorizationError ||
      e instanceof UserAuthenticationExpiredError ||
      e instanceof PermissionViolationError
    ) {
      return true;
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
      return true;
    }
    if (/authorization violation|certificate|self[- ]signed/i.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}

/** Waits between tries at start: doubling from 250 ms, at most 5 s. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

/**
 * Connects to NATS and prepares the streams. A NATS that is not reachable or not ready yet
 * (a cluster starting beside the relays, electing its leaders) is tried again until
 * `storage.nats.startTimeout`; after it, or at once for a refused identity or certificate,
 * it throws naming the servers and why.
 */
export async function openNatsStorage(
  config: RelayConfig,
  nats: NatsConfig,
  log: Logger,
  clock: Clock,
): Promise<NatsStorage> {
  const deadline = clock.now() + nats.startTimeout / 1e6;
  let wait = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const storage = await NatsStorage.open(
        natsOptions(config, nats, clock),
        log.child({ storage: 'nats' }),
      );
      log.info(
        { servers: nats.servers, stream: nats.stream, replicas: nats.replicas, attempt },
        'NATS JetStream storage open',
      );
      return storage;
    } catch (err) {
      const left = deadline - clock.now();
      if (isPermanent(err)) throw natsError(nats, err);
      if (left <= 0) {
        // A single try (the commands, startTimeout 0) says only why it failed.
        throw natsError(
          nats,
          attempt === 1
            ? err
            : new Error(
                `${err instanceof Error ? err.message : String(err)} (still failing after ${String(attempt)} attempts within storage.nats.startTimeout)`,
                { cause: err },
              ),
        );
      }
      const retryInMs = Math.min(wait, left);
      log.warn(
        {
          servers: nats.servers,
          attempt,
          retryInMs,
          reason: err instanceof Error ? err.message : String(err),
        },
        'NATS not usable yet: trying again until storage.nats.startTimeout',
      );
      await clock.sleep(retryInMs);
      wait = Math.min(wait * 2, MAX_RETRY_MS);
    }
  }
}
