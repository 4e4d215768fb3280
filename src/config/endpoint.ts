import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import type { BackoffPolicy } from '../endpoint/breaker.ts';
import { secretKey } from '../endpoint/signing.ts';
import type { TlsSettings } from '../core/transport.ts';
import { DEFAULTS } from './defaults.ts';
import { duration, nullToUndefined, optionalDuration, stringList } from './fields.ts';
import { FACTS, type FactName } from '../core/image.ts';

const headerValues = z.union([z.string().transform((s) => [s]), z.array(z.string())]);

/** A pattern, a list of patterns (both mean include), or `{include, exclude}`. */
function matchList<T extends z.ZodType<string>>(item: T) {
  const list = z.preprocess(
    (v) => (v === null || v === undefined ? [] : typeof v === 'string' ? [v] : v),
    z.array(item, { error: 'expected a list of patterns' }),
  );
  return z.preprocess(
    (v) =>
      v === null || v === undefined
        ? {}
        : typeof v === 'string' || Array.isArray(v)
          ? { include: v }
          : v,
    z.strictObject(
      { include: list, exclude: list },
      { error: 'expected a list of patterns, or {include: [...], exclude: [...]}' },
    ),
  );
}

const filterSchema = z.preprocess(
  (v) => (v === null || v === undefined ? {} : v),
  z.strictObject({
    actions: matchList(z.string()),
    mediatypes: matchList(z.string()),
    repositories: matchList(z.string()),
    tags: matchList(z.string()),
    targets: matchList(
      z.enum(['manifest', 'blob', 'tag'], { error: 'expected manifest, blob or tag' }),
    ),
    // Source names (`sources[].name`, or `events` for POST /events).
    sources: matchList(z.string()),
    // Decided on facts read from the registry (enrichment), once they are known.
    platforms: matchList(z.string()),
    artifactTypes: matchList(z.string()),
    labels: z.preprocess(
      nullToUndefined,
      z.record(z.string(), z.string(), { error: 'expected label: pattern pairs' }).default({}),
    ),
    signed: z.preprocess(nullToUndefined, z.boolean().optional()),
  }),
);

/** `enrich`: the facts an endpoint's events carry, and how long it waits for them. */
const enrichSchema = z.preprocess(
  (v) => (v === true ? {} : Array.isArray(v) ? { facts: v } : v === null ? undefined : v),
  z
    .strictObject(
      {
        facts: z
          .array(z.enum(['all', ...FACTS], { error: `expected all or one of ${FACTS.join(', ')}` }))
          .min(1, 'name at least one fact, or all')
          .default(['all']),
        wait: z.preprocess(nullToUndefined, optionalDuration()),
      },
      { error: 'expected true, a list of facts, or {facts: [...], wait: "5s"}' },
    )
    .optional(),
);

const FORMAT_TYPES = ['envelope', 'cloudevents', 'slack', 'template'];

const formatSchema = z.preprocess(
  (v, ctx) => {
    if (v === null || v === undefined) return { type: 'envelope' };
    if (typeof v !== 'string') return v;
    if (!FORMAT_TYPES.includes(v)) {
      ctx.addIssue({ code: 'custom', message: `expected ${FORMAT_TYPES.join(', ')}` });
    }
    return { type: v };
  },
  z.discriminatedUnion(
    'type',
    [
      z.strictObject({ type: z.literal('envelope') }),
      z.strictObject({
        type: z.literal('cloudevents'),
        mode: z.enum(['binary', 'structured', 'batched']).default('binary'),
        source: z.string().min(1, 'a URI reference such as //registry.example.com').optional(),
      }),
      z.strictObject({ type: z.literal('slack') }),
      z.strictObject({
        type: z.literal('template'),
        // YAML structure, or JSON text as Quay's template field takes it.
        body: z.unknown().transform((v, ctx) => {
          if (v === undefined || v === null) {
            ctx.addIssue({ code: 'custom', message: 'a template needs a body' });
            return z.NEVER;
          }
          if (typeof v !== 'string') return v;
          try {
            return JSON.parse(v) as unknown;
          } catch (err) {
            ctx.addIssue({
              code: 'custom',
              message: `a string body must be JSON text: ${err instanceof Error ? err.message : String(err)}`,
            });
            return z.NEVER;
          }
        }),
        contentType: z.string().min(1).default('application/json'),
      }),
    ],
    { error: 'expected a format type: envelope, cloudevents, slack or template' },
  ),
);

export type FormatConfig = z.output<typeof formatSchema>;

const batchSchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject({
      maxEvents: z.number().int().min(1).max(10_000),
      maxWait: duration(0, { zeroIsDefault: false }),
    })
    .optional(),
);

/** `rateLimit`: `requests` per `per` (default 1s), `burst` at once (default `requests`). */
const rateLimitSchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject({
      requests: z.number().int().min(1).max(1_000_000),
      per: z.preprocess(nullToUndefined, optionalDuration()),
      burst: z.number().int().min(1).max(1_000_000).optional(),
    })
    .optional()
    .transform((r) =>
      r === undefined
        ? undefined
        : { requests: r.requests, perMs: (r.per ?? 1e9) / 1e6, burst: r.burst ?? r.requests },
    ),
);

const signingSchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject({
      secret: z.string().optional(),
      secrets: z.array(z.string()).min(1, 'list at least one secret').optional(),
    })
    .transform((v, ctx) => {
      if ((v.secret === undefined) === (v.secrets === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'give either secret or secrets (for rotation)' });
        return z.NEVER;
      }
      const secrets = v.secrets ?? [v.secret ?? ''];
      secrets.forEach((secret, i) => {
        try {
          secretKey(secret);
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            path: v.secrets === undefined ? ['secret'] : ['secrets', i],
            message: err instanceof Error ? err.message : String(err),
          });
        }
      });
      return { secrets };
    })
    .optional(),
);

/** A PEM file, read when the config is loaded: a missing file fails at start, not at 3 a.m. */
const pemFile = z
  .string()
  .min(1)
  .transform((path, ctx) => {
    try {
      return readFileSync(path);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
      });
      return z.NEVER;
    }
  });

/**
 * `auth.oauth2`: the client-credentials grant. The secret is given inline (from the
 * environment: `${OAUTH_CLIENT_SECRET}`) or in a file read at load, like the PEM files.
 */
const oauth2Schema = z
  .strictObject({
    // The client secret goes there: TLS only.
    tokenUrl: z.url({ protocol: /^https$/, error: 'expected the https:// token URL' }),
    /** A private CA for the token server (PEM), read at load. */
    ca: pemFile.optional(),
    clientId: z.string().min(1, 'the client id'),
    clientSecret: z.string().min(1).optional(),
    clientSecretFile: z.string().min(1).optional(),
    scopes: stringList,
    audience: z.string().min(1).optional(),
    /** How the client authenticates at the token URL: HTTP Basic (the default) or the body. */
    clientAuth: z.enum(['basic', 'post']).default('basic'),
  })
  .transform((o, ctx) => {
    if ((o.clientSecret === undefined) === (o.clientSecretFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give either clientSecret or clientSecretFile' });
      return z.NEVER;
    }
    let secret = o.clientSecret;
    if (o.clientSecretFile !== undefined) {
      try {
        secret = readFileSync(o.clientSecretFile, 'utf8').trim();
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: ['clientSecretFile'],
          message: `cannot read ${o.clientSecretFile}: ${err instanceof Error ? err.message : String(err)}`,
        });
        return z.NEVER;
      }
    }
    return {
      tokenUrl: o.tokenUrl,
      clientId: o.clientId,
      clientSecret: secret ?? '',
      scopes: o.scopes,
      audience: o.audience,
      clientAuth: o.clientAuth,
      ca: o.ca,
    };
  });

export type OAuth2Config = z.output<typeof oauth2Schema>;

const authSchema = z.preprocess(
  nullToUndefined,
  z.strictObject({ oauth2: oauth2Schema }).optional(),
);

export const tlsSchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject({
      ca: pemFile.optional(),
      cert: pemFile.optional(),
      key: pemFile.optional(),
      insecureSkipVerify: z.boolean().default(false),
    })
    .transform((v, ctx): TlsSettings => {
      if ((v.cert === undefined) !== (v.key === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [v.cert === undefined ? 'cert' : 'key'],
          message: 'a client certificate needs both cert and key',
        });
        return z.NEVER;
      }
      try {
        createSecureContext({
          ...(v.ca === undefined ? {} : { ca: v.ca }),
          ...(v.cert === undefined ? {} : { cert: v.cert }),
          ...(v.key === undefined ? {} : { key: v.key }),
        });
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: `not usable PEM: ${err instanceof Error ? err.message : String(err)}`,
        });
        return z.NEVER;
      }
      return v;
    })
    .optional(),
);

const exponentialSchema = z.strictObject({
  strategy: z.literal('exponential'),
  initial: duration(DEFAULTS.endpoint.exponential.initialNs, { zeroIsDefault: true }),
  max: duration(DEFAULTS.endpoint.exponential.maxNs, { zeroIsDefault: true }),
  jitter: z.number().min(0).max(1).default(DEFAULTS.endpoint.exponential.jitter),
});

/** The registry's fixed `backoff` (a duration), or `{strategy: exponential, ...}`. */
const backoffSchema = z.preprocess(
  nullToUndefined,
  z
    .union([duration(DEFAULTS.endpoint.backoffNs, { zeroIsDefault: true }), exponentialSchema], {
      error: 'expected a duration such as "1s", or {strategy: exponential, initial, max, jitter}',
    })
    .optional()
    .transform((v, ctx): BackoffPolicy => {
      if (v === undefined) return { strategy: 'fixed', delayMs: DEFAULTS.endpoint.backoffNs / 1e6 };
      if (typeof v === 'number') return { strategy: 'fixed', delayMs: v / 1e6 };
      if (v.max < v.initial) {
        ctx.addIssue({ code: 'custom', path: ['max'], message: 'max is shorter than initial' });
        return z.NEVER;
      }
      return {
        strategy: 'exponential',
        initialMs: v.initial / 1e6,
        maxMs: v.max / 1e6,
        jitter: v.jitter,
      };
    }),
);

/**
 * The facts an endpoint's events carry: those `enrich` names, and those its fact filters
 * decide on. Undefined when it asks for none (no registry is asked for it).
 */
function enrichPlan(
  enrich: { facts: readonly string[]; wait?: number | undefined } | undefined,
  filter: {
    platforms: { include: string[]; exclude: string[] };
    artifactTypes: { include: string[]; exclude: string[] };
    labels: Record<string, string>;
    signed?: boolean | undefined;
  },
): { facts: ReadonlySet<FactName>; waitNs: number | undefined } | undefined {
  const facts = new Set<FactName>();
  for (const f of enrich?.facts ?? []) {
    if (f === 'all') for (const all of FACTS) facts.add(all);
    else facts.add(f as FactName);
  }
  const listed = (l: { include: string[]; exclude: string[] }) =>
    l.include.length + l.exclude.length > 0;
  if (listed(filter.platforms)) facts.add('platforms');
  if (listed(filter.artifactTypes)) facts.add('artifactType');
  if (Object.keys(filter.labels).length > 0) facts.add('labels');
  if (filter.signed !== undefined) facts.add('referrers');
  if (facts.size === 0) return undefined;
  return { facts, waitNs: enrich?.wait };
}

/** One endpoint. Checks across its fields (patterns, templates, batch and format) are in checks.ts. */
export const endpointSchema = z
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
    backoff: backoffSchema,
    ignoredmediatypes: stringList,
    ignore: z.preprocess(
      nullToUndefined,
      z.strictObject({ mediatypes: stringList, actions: stringList }).prefault({}),
    ),
    filter: filterSchema,
    enrich: enrichSchema,
    format: formatSchema,
    batch: batchSchema,
    rateLimit: rateLimitSchema,
    auth: authSchema,
    signing: signingSchema,
    tls: tlsSchema,
    proxy: z.preprocess(
      nullToUndefined,
      z
        .url({ protocol: /^https?$/, error: 'expected an http:// or https:// proxy URL' })
        .optional(),
    ),
    concurrency: z.preprocess(
      nullToUndefined,
      z.number().int().min(1).max(256).default(DEFAULTS.endpoint.concurrency),
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
          maxRetryAfter: duration(DEFAULTS.endpoint.maxRetryAfterNs, { zeroIsDefault: false }),
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
    backoff: e.backoff,
    ignoredMediaTypes: e.ignoredmediatypes,
    ignore: { mediaTypes: e.ignore.mediatypes, actions: e.ignore.actions },
    filter: e.filter,
    enrich: enrichPlan(e.enrich, e.filter),
    format: e.format,
    batch: { maxEvents: e.batch?.maxEvents ?? 1, maxWaitNs: e.batch?.maxWait ?? 0 },
    rateLimit: e.rateLimit,
    oauth2: e.auth?.oauth2,
    signing: e.signing,
    tls: e.tls,
    proxy: e.proxy,
    concurrency: e.concurrency,
    maxPending: e.queue.maxPending,
    retry: {
      maxAttempts: e.retry.maxAttempts,
      maxAgeNs: e.retry.maxAge,
      maxRetryAfterNs: e.retry.maxRetryAfter,
    },
  }));

export type EndpointConfig = z.output<typeof endpointSchema>;
