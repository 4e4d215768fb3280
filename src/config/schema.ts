import { z } from 'zod';
import { endpointSchema, tlsSchema } from './endpoint.ts';
import { DEFAULTS } from './defaults.ts';
import { byteSize, duration, nullToUndefined } from './fields.ts';
import { sourcesSchema } from './sources.ts';
import { registriesSchema } from './registries.ts';
import { telemetrySchema } from './telemetry.ts';

export { DEFAULTS } from './defaults.ts';

export type { EndpointConfig } from './endpoint.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port` or Go's `:port` (every interface). */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

function listenAddress(fallback: string) {
  return z
    .string()
    .transform((v, ctx) => {
      const a = parseListenAddress(v);
      if (!a) {
        ctx.addIssue({
          code: 'custom',
          message: 'not a listen address: use "host:port", "[::1]:port" or ":port"',
        });
        return z.NEVER;
      }
      return a;
    })
    .prefault(fallback);
}

/** Bearer tokens: `Authorization: Bearer <one of them>`; none means no check. */
const tokensSchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject({
      tokens: z.array(z.string().min(1, 'a token must not be empty')).default([]),
    })
    .prefault({}),
);

export const configSchema = z.strictObject({
  http: z.preprocess(
    nullToUndefined,
    z
      .strictObject({
        addr: listenAddress(DEFAULTS.http.addr),
        maxBodySize: byteSize(DEFAULTS.http.maxBodySize),
        debug: z.preprocess(
          nullToUndefined,
          z
            .strictObject({
              addr: listenAddress(DEFAULTS.http.debugAddr),
              // The admin API: writes (pause, resume, reload) need one of these.
              auth: tokensSchema,
              attempts: z.preprocess(
                nullToUndefined,
                z
                  .strictObject({
                    // Per endpoint, in memory; 0 turns the attempts log off.
                    keep: z.number().int().min(0).max(100_000).default(DEFAULTS.attempts.keep),
                    // Per endpoint, in durable storage (journal, JetStream); 0: memory only.
                    store: z.number().int().min(0).max(1_000_000).default(DEFAULTS.attempts.store),
                    maxAge: duration(DEFAULTS.attempts.maxAgeNs, { zeroIsDefault: true }),
                  })
                  .prefault({}),
              ),
              events: z.preprocess(
                nullToUndefined,
                z
                  .strictObject({
                    // Recent events whose whereabouts GET /api/v1/events/{id} knows; 0: off.
                    keep: z.number().int().min(0).max(10_000_000).default(DEFAULTS.events.keep),
                  })
                  .prefault({}),
              ),
            })
            .prefault({}),
        ),
        auth: tokensSchema,
        dedup: z.preprocess(
          nullToUndefined,
          z
            .strictObject({
              window: duration(DEFAULTS.http.dedupWindowNs, { zeroIsDefault: false }),
              maxIds: z.number().int().min(1).max(10_000_000).default(DEFAULTS.http.dedupMaxIds),
            })
            .prefault({}),
        ),
      })
      .prefault({}),
  ),
  log: z.preprocess(
    nullToUndefined,
    z
      .strictObject({
        level: z
          .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
          .default(DEFAULTS.log.level),
      })
      .prefault({}),
  ),
  storage: z.preprocess(
    nullToUndefined,
    z
      .strictObject({
        path: z.string().min(1, 'a directory, or leave storage out for memory only').optional(),
        sync: z.enum(['normal', 'full']).default(DEFAULTS.storage.sync),
        maxSize: byteSize(DEFAULTS.storage.maxSize),
        window: z.number().int().min(2).default(DEFAULTS.storage.window),
        nats: z.preprocess(
          nullToUndefined,
          z
            .strictObject({
              servers: z
                .array(z.string().regex(/^(nats|tls):\/\/[^\s]+$/, 'expected nats://host:port'))
                .min(1, 'at least one server, e.g. "nats://nats-1:4222"'),
              stream: z
                .string()
                .regex(
                  /^[A-Za-z0-9_-]{1,200}$/,
                  'letters, digits, "_" and "-" only (a JetStream stream name)',
                )
                .default(DEFAULTS.storage.nats.stream),
              replicas: z.number().int().min(1).max(5).default(DEFAULTS.storage.nats.replicas),
              maxAge: duration(DEFAULTS.storage.nats.maxAgeNs, { zeroIsDefault: true }),
              maxBytes: byteSize(0),
              ackWait: duration(DEFAULTS.storage.nats.ackWaitNs, { zeroIsDefault: true }),
              startTimeout: duration(DEFAULTS.storage.nats.startTimeoutNs, {
                zeroIsDefault: true,
              }),
              token: z.string().min(1).optional(),
              user: z.string().min(1).optional(),
              password: z.string().optional(),
              credentials: z.string().min(1, 'a .creds file').optional(),
              nkey: z.string().min(1, 'a file holding an NKey user seed (SU…)').optional(),
              tls: tlsSchema,
            })
            .superRefine((v, ctx) => {
              const ways = (['token', 'user', 'credentials', 'nkey'] as const).filter(
                (k) => v[k] !== undefined,
              );
              if (ways.length > 1) {
                ctx.addIssue({
                  code: 'custom',
                  path: [ways[1] ?? 'token'],
                  message: `one way to authenticate: ${ways.join(' and ')} are both set`,
                });
              }
            })
            .optional(),
        ),
      })
      .prefault({}),
  ),
  shutdown: z.preprocess(
    nullToUndefined,
    z
      .strictObject({ timeout: duration(DEFAULTS.shutdownTimeoutNs, { zeroIsDefault: false }) })
      .prefault({}),
  ),
  // OpenTelemetry traces (src/telemetry/), with the standard OTEL_* variables.
  telemetry: telemetrySchema,
  // Webhooks of other registries, normalised into registry events (src/sources/).
  sources: sourcesSchema,
  // Registries the relay reads image facts from and resolves tags with (src/registry/).
  registries: registriesSchema,
  notifications: z.strictObject({
    // Accepted so that a registry's whole `notifications:` block can be pasted; the
    // registry decides whether it sends references, the relay forwards what it gets.
    events: z.preprocess(
      nullToUndefined,
      z.strictObject({ includereferences: z.boolean().optional() }).optional(),
    ),
    endpoints: z.array(endpointSchema).min(1, 'configure at least one endpoint'),
  }),
});

export type RelayConfig = z.output<typeof configSchema>;
