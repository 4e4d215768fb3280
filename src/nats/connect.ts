import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';

/** How a relay (or its CLI) reaches NATS: servers, one way to authenticate, TLS. */
export interface NatsConnectionOptions {
  readonly servers: readonly string[];
  readonly token?: string | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  /** A NATS .creds file's content (JWT and NKey seed). */
  readonly credentials?: Uint8Array | undefined;
  /** An NKey user seed (`SU…`), as `nsc` or `nk -gen user` writes it. */
  readonly nkeySeed?: Uint8Array | undefined;
  readonly tls?:
    | {
        readonly ca?: Buffer | undefined;
        readonly cert?: Buffer | undefined;
        readonly key?: Buffer | undefined;
        readonly insecureSkipVerify: boolean;
      }
    | undefined;
  /** Connection name shown by the server (`nats server report connections`). */
  readonly name: string;
}

/** Connects, reconnecting for ever once connected (the relay's readiness follows the link). */
export function connectNats(o: NatsConnectionOptions): Promise<NatsConnection> {
  const tls = o.tls;
  return connect({
    servers: [...o.servers],
    name: o.name,
    maxReconnectAttempts: -1,
    // Without it every request (each publish awaits its acknowledgement) makes an Error
    // to keep the caller's stack: 7 % of a relay's CPU under load. Errors keep messages.
    noAsyncTraces: true,
    ...(o.token === undefined ? {} : { token: o.token }),
    ...(o.user === undefined ? {} : { user: o.user, pass: o.password ?? '' }),
    ...(o.credentials === undefined ? {} : { authenticator: credsAuthenticator(o.credentials) }),
    ...(o.nkeySeed === undefined ? {} : { authenticator: nkeyAuthenticator(o.nkeySeed) }),
    ...(tls === undefined
      ? {}
      : {
          // Handed to node:tls as they are, beside the client's own options.
          tls: {
            ...(tls.ca === undefined ? {} : { ca: tls.ca.toString() }),
            ...(tls.cert === undefined ? {} : { cert: tls.cert.toString() }),
            ...(tls.key === undefined ? {} : { key: tls.key.toString() }),
            ...(tls.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
          },
        }),
  });
}
