import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RelayConfig } from '../config/schema.ts';
import { NatsStorage } from './storage.ts';

type NatsConfig = NonNullable<RelayConfig['storage']['nats']>;

/** Connects to NATS and prepares the streams, or throws naming the servers and why. */
export async function openNatsStorage(
  config: RelayConfig,
  nats: NatsConfig,
  log: Logger,
): Promise<NatsStorage> {
  try {
    const storage = await NatsStorage.open(
      {
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
        name: 'registry-relay',
      },
      log.child({ storage: 'nats' }),
    );
    log.info(
      { servers: nats.servers, stream: nats.stream, replicas: nats.replicas },
      'NATS JetStream storage open',
    );
    return storage;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`storage.nats: cannot use ${nats.servers.join(', ')}: ${reason}`, {
      cause: err,
    });
  }
}
