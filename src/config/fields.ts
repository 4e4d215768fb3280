import { z } from 'zod';
import { parseByteSize, parseGoDuration } from './units.ts';

// Field types shared by the config schemas: Go durations, byte sizes, YAML nulls.

export const nullToUndefined = (v: unknown): unknown => (v === null ? undefined : v);

/** A Go duration string or a bare number of nanoseconds; zero or absent means `fallback`. */
export function duration(fallbackNs: number, { zeroIsDefault }: { zeroIsDefault: boolean }) {
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
            message:
              'not a duration: use a Go duration such as "500ms", "1m30s" or "2h" (or days, "7d")',
          });
          return z.NEVER;
        }
        return ns === 0 && zeroIsDefault ? fallbackNs : ns;
      }),
  );
}

/** A duration that may be absent (undefined); zero is refused. */
export function optionalDuration() {
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

export function byteSize(fallback: number) {
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

export const stringList = z.preprocess(nullToUndefined, z.array(z.string()).default([]));
