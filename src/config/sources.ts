import { z } from 'zod';
import { SOURCE_TYPES } from '../sources/adapter.ts';
import { nullToUndefined } from './fields.ts';

/** The header a sender puts its secret in, unless `auth.header` says otherwise. */
export const DEFAULT_AUTH_HEADER: Readonly<Record<(typeof SOURCE_TYPES)[number], string>> = {
  harbor: 'Authorization',
  quay: 'Authorization',
  dockerhub: 'Authorization',
  gitlab: 'Authorization',
  github: 'Authorization',
  zot: 'Authorization',
  artifactory: 'X-JFrog-Event-Auth',
  distribution: 'Authorization',
};

const authSchema = z.preprocess(
  nullToUndefined,
  z
    .strictObject(
      {
        header: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/, 'a header name')
          .optional(),
        value: z.string().min(1, 'the value the sender puts in the header').optional(),
        secret: z.string().min(1, "GitHub's webhook secret").optional(),
        pathSecret: z
          .string()
          .regex(
            /^[A-Za-z0-9._~-]{16,}$/,
            'at least 16 URL-safe characters (letters, digits, ._~-)',
          )
          .optional(),
        none: z.literal(true).optional(),
      },
      {
        error: (iss) =>
          iss.input === undefined
            ? 'required: how the sender is verified, {value}, {secret} (GitHub), {pathSecret} or {none: true}'
            : 'expected an object such as {value: "..."}',
      },
    )
    .superRefine((v, ctx) => {
      const ways = [
        v.value !== undefined ? 'value' : undefined,
        v.secret !== undefined ? 'secret' : undefined,
        v.pathSecret !== undefined ? 'pathSecret' : undefined,
        v.none === true ? 'none' : undefined,
      ].filter((w) => w !== undefined);
      if (ways.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message:
            'say how the sender is verified: value (a header), secret (GitHub), pathSecret (a secret URL segment), or none: true',
        });
      } else if (ways.length > 1) {
        ctx.addIssue({
          code: 'custom',
          message: `one way to verify: ${ways.join(' and ')} are both set`,
        });
      }
      if (v.header !== undefined && v.value === undefined) {
        ctx.addIssue({ code: 'custom', path: ['header'], message: 'header needs value' });
      }
    }),
);

export const sourceSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, "_", "." and "-" only (up to 100)'),
    type: z.enum(SOURCE_TYPES, {
      error: `expected one of ${SOURCE_TYPES.join(', ')}`,
    }),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9_./-]*$/, 'a URL path such as "/sources/harbor-prod"')
      .optional(),
    auth: authSchema,
    // The configured registry (`registries[].name`) this source's events are about.
    registry: z.preprocess(nullToUndefined, z.string().min(1).optional()),
  })
  .superRefine((v, ctx) => {
    if (v.type === 'github' && v.auth.secret === undefined && v.auth.none !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth'],
        message: 'GitHub signs every delivery: set auth.secret to the webhook secret',
      });
    }
    if (v.type !== 'github' && v.auth.secret !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth', 'secret'],
        message: `${v.type} does not sign its requests: use auth.value (a header) or auth.pathSecret`,
      });
    }
    if (v.path === '/events' || v.path?.startsWith('/events/') === true) {
      ctx.addIssue({
        code: 'custom',
        path: ['path'],
        message: '/events is the registry envelope route',
      });
    }
  })
  .transform((v) => ({
    name: v.name,
    type: v.type,
    path: (v.path ?? `/sources/${v.name}`).replace(/\/+$/, '') || '/',
    registry: v.registry,
    auth:
      v.auth.none === true
        ? ({ kind: 'none' } as const)
        : v.auth.secret !== undefined
          ? ({ kind: 'hmac', secret: v.auth.secret } as const)
          : v.auth.pathSecret !== undefined
            ? ({ kind: 'path', secret: v.auth.pathSecret } as const)
            : ({
                kind: 'header',
                header: v.auth.header ?? DEFAULT_AUTH_HEADER[v.type],
                value: v.auth.value ?? '',
              } as const),
  }));

export const sourcesSchema = z.preprocess(
  nullToUndefined,
  z
    .array(sourceSchema)
    .default([])
    .superRefine((list, ctx) => {
      const names = new Map<string, number>();
      const paths = new Map<string, number>();
      list.forEach((s, i) => {
        const n = names.get(s.name);
        if (n !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: `duplicate source name (also sources[${String(n)}])`,
          });
        } else names.set(s.name, i);
        const p = paths.get(s.path);
        if (p !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'path'],
            message: `duplicate path ${s.path} (also sources[${String(p)}])`,
          });
        } else paths.set(s.path, i);
      });
    }),
);

export type SourceConfig = z.output<typeof sourceSchema>;
