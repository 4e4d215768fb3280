import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { RelayConfig } from '../config/schema.ts';
import { NatsStorage, type NatsStorageOptions } from './storage.ts';
import { NatsUnavailableError } from '../errors.ts';

export type NatsConfig = NonNullable<RelayConfig['storage']['nats']>;

/** The relay's NATS settings as the storage and the CLI use them (reads the key files). */
export function natsOptions(
  config: RelayConfig,
  nats: NatsConfig,
  clock: Clock,
): NatsStorageOptions {
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
export function natsError(nats: NatsConfig, err: unknown): NatsUnavailableError {
  const reason = err instanceof Error ? err.message : String(err);
  return new NatsUnavailableError(
    `storage.nats: cannot use ${nats.servers.join(', ')}: ${reason}`,
    { cause: err },
  );
}

/** Connects to NATS and prepares the streams, or throws naming the servers and why. */
export async function openNatsStorage(
  config: RelayConfig,
  nats: NatsConfig,
  log: Logger,
  clock: Clock,
): Promise<NatsStorage> {
  try {
    const storage = await NatsStorage.open(
      natsOptions(config, nats, clock),
      log.child({ storage: 'nats' }),
    );
    log.info(
      { servers: nats.servers, stream: nats.stream, replicas: nats.replicas },
      'NATS JetStream storage open',
    );
    return storage;
  } catch (err) {
    throw natsError(nats, err);
  }
}
