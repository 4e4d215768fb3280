import { z } from 'zod';
import type { RegistryPlan } from '../registry/client.ts';
import { DEFAULTS } from './defaults.ts';
import { tlsSchema } from './endpoint.ts';
import { duration, nullToUndefined } from './fields.ts';

const authSchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject(
      {
        username: z.string().min(1).optional(),
        password: z.string().optional(),
        token: z.string().min(1, 'a bearer token').optional(),
      },
      { error: 'expected {username, password} or {token}; leave auth out for anonymous access' },
    )
    .superRefine((v, ctx) => {
      if (v.token !== undefined && (v.username !== undefined || v.password !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['token'],
          message: 'one way to sign in: token, or username and password',
        });
      }
      if ((v.username === undefined) !== (v.password === undefined) && v.token === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [v.username === undefined ? 'username' : 'password'],
          message: 'basic auth needs both username and password',
        });
      }
    })
    .optional(),
);

const registrySchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, "_", "." and "-" only (up to 100)'),
    url: z.url({
      protocol: /^https?$/,
      error: 'expected the registry API base URL, http:// or https://',
    }),
    hosts: z.preprocess(nullToUndefined, z.array(z.string().min(1)).optional()),
    auth: authSchema,
    tls: tlsSchema,
    proxy: z.preprocess(
      nullToUndefined,
      z
        .url({ protocol: /^https?$/, error: 'expected an http:// or https:// proxy URL' })
        .optional(),
    ),
    timeout: duration(DEFAULTS.registry.timeoutNs, { zeroIsDefault: true }),
    concurrency: z.preprocess(
      nullToUndefined,
      z.number().int().min(1).max(256).default(DEFAULTS.registry.concurrency),
    ),
    wait: duration(DEFAULTS.registry.waitNs, { zeroIsDefault: false }),
    cache: z.preprocess(
      nullToUndefined,
      z
        .strictObject({
          digests: z.number().int().min(1).max(10_000_000).default(DEFAULTS.registry.cacheDigests),
        })
        .prefault({}),
    ),
    referrersMaxAge: duration(DEFAULTS.registry.referrersMaxAgeNs, { zeroIsDefault: false }),
    reconcile: z.preprocess(
      nullToUndefined,
      z
        .strictObject({
          interval: duration(DEFAULTS.registry.reconcile.intervalNs, { zeroIsDefault: true }),
          repositories: z
            .array(z.string().min(1))
            .min(1, 'name at least one repository or pattern')
            .default(['**']),
          catalog: z.boolean().default(true),
          budget: z.number().positive().max(10_000).default(DEFAULTS.registry.reconcile.budget),
          firstPass: z.enum(['record', 'report']).default('record'),
        })
        .optional(),
    ),
  })
  .transform((r): RegistryPlan => {
    const url = new URL(r.url);
    return {
      name: r.name,
      url: url.origin,
      hosts: r.hosts ?? [url.host],
      auth:
        r.auth?.token !== undefined
          ? { kind: 'bearer', token: r.auth.token }
          : r.auth?.username !== undefined
            ? { kind: 'basic', username: r.auth.username, password: r.auth.password ?? '' }
            : { kind: 'anonymous' },
      tls: r.tls,
      proxy: r.proxy,
      timeoutMs: r.timeout / 1e6,
      concurrency: r.concurrency,
      waitMs: r.wait / 1e6,
      cacheEntries: r.cache.digests,
      referrersMaxAgeMs: r.referrersMaxAge / 1e6,
      reconcile:
        r.reconcile === undefined
          ? undefined
          : {
              intervalMs: r.reconcile.interval / 1e6,
              repositories: r.reconcile.repositories,
              catalog: r.reconcile.catalog,
              budget: r.reconcile.budget,
              reportFirstPass: r.reconcile.firstPass === 'report',
            },
    };
  });

/** `registries:`, the registries the relay reads facts from, each name and host once. */
export const registriesSchema = z.preprocess(
  nullToUndefined,
  z
    .array(registrySchema)
    .default([])
    .superRefine((list, ctx) => {
      const names = new Map<string, number>();
      const hosts = new Map<string, number>();
      list.forEach((r, i) => {
        const n = names.get(r.name);
        if (n !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: `duplicate registry name (also registries[${String(n)}])`,
          });
        } else names.set(r.name, i);
        // An entry the schema refused is left as written: it may have no hosts at all.
        const listed: unknown = r.hosts;
        if (!Array.isArray(listed)) return;
        r.hosts.forEach((h, j) => {
          const key = h.toLowerCase();
          const other = hosts.get(key);
          if (other !== undefined && other !== i) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'hosts', j],
              message: `host ${h} is served by registries[${String(other)}] already: one registry per host`,
            });
          } else hosts.set(key, i);
        });
      });
    }),
);
