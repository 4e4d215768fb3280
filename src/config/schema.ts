import { z } from 'zod';
import { parseByteSize, parseGoDuration } from './units.ts';

/**
 * Every default of the relay, in one place. Endpoint defaults are the registry's own
 * (distribution/notifications, `EndpointConfig.defaults`), so a copied endpoint list
 * behaves as it did in the registry.
 */
export const DEFAULTS = {
  http: {
    addr: '0.0.0.0:5080',
    maxBodySize: 1024 * 1024,
    debugAddr: '0.0.0.0:5081',
    dedupWindowNs: 10 * 60e9,
    dedupMaxIds: 100_000,
  },
  log: { level: 'info' },
  shutdownTimeoutNs: 10e9,
  endpoint: {
    timeoutNs: 1e9,
    threshold: 10,
    backoffNs: 1e9,
    maxPending: 100_000,
  },
  storage: {
    sync: 'normal',
    maxSize: 10 * 2 ** 30,
    window: 1000,
  },
} as const;

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

const nullToUndefined = (v: unknown): unknown => (v === null ? undefined : v);

/** A Go duration string or a bare number of nanoseconds; zero or absent means `fallback`. */
function duration(fallbackNs: number, { zeroIsDefault }: { zeroIsDefault: boolean }) {
  return z.preprocess(
    nullToUndefined,
    z
      .union([z.string(), z.number()], {
        error: 'expected a duration such as "500ms", "1m30s" or a number of nanoseconds',
      })
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return fallbackNs;
        const ns = parseGoDuration(v);
        if (ns === undefined) {
          ctx.addIssue({
            code: 'custom',
            message: 'not a duration: use a Go duration such as "500ms", "1m30s" or "2h"',
          });
          return z.NEVER;
        }
        return ns === 0 && zeroIsDefault ? fallbackNs : ns;
      }),
  );
}

/** A duration that may be absent (undefined); zero is refused. */
function optionalDuration() {
  return z
    .union([z.string(), z.number()], {
      error: 'expected a duration such as "30m", "24h" or a number of nanoseconds',
    })
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const ns = parseGoDuration(v);
      if (ns === undefined || ns <= 0) {
        ctx.addIssue({ code: 'custom', message: 'not a positive duration such as "24h"' });
        return z.NEVER;
      }
      return ns;
    });
}

function byteSize(fallback: number) {
  return z.preprocess(
    nullToUndefined,
    z
      .union([z.string(), z.number()])
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return fallback;
        const n = parseByteSize(v);
        if (n === undefined || n === 0) {
          ctx.addIssue({
            code: 'custom',
            message: 'not a size: use bytes or e.g. "512KiB", "1MiB"',
          });
          return z.NEVER;
        }
        return n;
      }),
  );
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

const stringList = z.preprocess(nullToUndefined, z.array(z.string()).default([]));

const headerValues = z.union([z.string().transform((s) => [s]), z.array(z.string())]);

const endpointSchema = z
  .strictObject({
    name: z.string().min(1, 'an endpoint needs a name'),
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
    disabled: z.preprocess(nullToUndefined, z.boolean().default(false)),
    headers: z.preprocess(nullToUndefined, z.record(z.string(), headerValues).default({})),
    timeout: duration(DEFAULTS.endpoint.timeoutNs, { zeroIsDefault: true }),
    threshold: z.preprocess(
      nullToUndefined,
      z
        .number()
        .int()
        .min(0)
        .default(DEFAULTS.endpoint.threshold)
        .transform((n) => (n === 0 ? DEFAULTS.endpoint.threshold : n)),
    ),
    backoff: duration(DEFAULTS.endpoint.backoffNs, { zeroIsDefault: true }),
    ignoredmediatypes: stringList,
    ignore: z.preprocess(
      nullToUndefined,
      z.strictObject({ mediatypes: stringList, actions: stringList }).prefault({}),
    ),
    queue: z.preprocess(
      nullToUndefined,
      z
        .strictObject({
          maxPending: z.number().int().min(1).default(DEFAULTS.endpoint.maxPending),
        })
        .prefault({}),
    ),
    retry: z.preprocess(
      nullToUndefined,
      z
        .strictObject({
          maxAttempts: z.number().int().min(1).optional(),
          maxAge: z.preprocess(nullToUndefined, optionalDuration()),
        })
        .prefault({}),
    ),
  })
  .transform((e) => ({
    name: e.name,
    url: e.url,
    disabled: e.disabled,
    headers: e.headers,
    timeoutNs: e.timeout,
    threshold: e.threshold,
    backoffNs: e.backoff,
    ignoredMediaTypes: e.ignoredmediatypes,
    ignore: { mediaTypes: e.ignore.mediatypes, actions: e.ignore.actions },
    maxPending: e.queue.maxPending,
    retry: { maxAttempts: e.retry.maxAttempts, maxAgeNs: e.retry.maxAge },
  }));

export const configSchema = z.strictObject({
  http: z.preprocess(
    nullToUndefined,
    z
      .strictObject({
        addr: listenAddress(DEFAULTS.http.addr),
        maxBodySize: byteSize(DEFAULTS.http.maxBodySize),
        debug: z.preprocess(
          nullToUndefined,
          z.strictObject({ addr: listenAddress(DEFAULTS.http.debugAddr) }).prefault({}),
        ),
        auth: z.preprocess(
          nullToUndefined,
          z
            .strictObject({
              tokens: z.array(z.string().min(1, 'a token must not be empty')).default([]),
            })
            .prefault({}),
        ),
        dedup: z.preprocess(
          nullToUndefined,
          z
            .strictObject({
              window: duration(DEFAULTS.http.dedupWindowNs, { zeroIsDefault: false }),
              maxIds: z.number().int().min(1).default(DEFAULTS.http.dedupMaxIds),
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
      })
      .prefault({}),
  ),
  shutdown: z.preprocess(
    nullToUndefined,
    z
      .strictObject({ timeout: duration(DEFAULTS.shutdownTimeoutNs, { zeroIsDefault: false }) })
      .prefault({}),
  ),
  notifications: z.strictObject({
    // Accepted so that a registry's whole `notifications:` block can be pasted; the
    // registry decides whether it sends references, the relay forwards what it gets.
    events: z.preprocess(
      nullToUndefined,
      z.strictObject({ includereferences: z.boolean().optional() }).optional(),
    ),
    endpoints: z
      .array(endpointSchema)
      .min(1, 'configure at least one endpoint')
      .superRefine((endpoints, ctx) => {
        const seen = new Map<string, number>();
        endpoints.forEach((e, i) => {
          const first = seen.get(e.name);
          if (first !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `duplicate endpoint name (also used by endpoints[${first}])`,
            });
          } else {
            seen.set(e.name, i);
          }
        });
      }),
  }),
});

export type RelayConfig = z.output<typeof configSchema>;
export type EndpointConfig = RelayConfig['notifications']['endpoints'][number];
