import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { VerifyError } from '../core/errors.ts';

/** How a source proves who sent a request. */
export type SourceAuth =
  | { readonly kind: 'none' }
  /** A header with a fixed value (Harbor's auth header, Artifactory's secret, a token). */
  | { readonly kind: 'header'; readonly header: string; readonly value: string }
  /** GitHub: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>`. */
  | { readonly kind: 'hmac'; readonly secret: string }
  /** Senders that sign nothing (Quay, Docker Hub): a secret last segment of the URL. */
  | { readonly kind: 'path'; readonly secret: string };

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Lengths differ: compare x with itself so the time does not tell how long b is.
  return x.length === y.length ? timingSafeEqual(x, y) : !timingSafeEqual(x, x);
}

const first = (v: string | string[] | undefined): string | undefined =>
  Array.isArray(v) ? v[0] : v;

/**
 * Checks a request against the source's auth, in constant time; throws VerifyError saying
 * what is missing or wrong (never what was expected).
 */
export function verify(
  auth: SourceAuth,
  headers: IncomingHttpHeaders,
  raw: Buffer,
  pathSecret: string | undefined,
): void {
  switch (auth.kind) {
    case 'none':
      return;
    case 'header': {
      const got = first(headers[auth.header.toLowerCase()]);
      if (got === undefined) throw new VerifyError(`missing ${auth.header} header`);
      if (!same(got, auth.value)) throw new VerifyError(`wrong ${auth.header} header`);
      return;
    }
    case 'hmac': {
      const got = first(headers['x-hub-signature-256']);
      if (got === undefined) throw new VerifyError('missing X-Hub-Signature-256 header');
      const want = `sha256=${createHmac('sha256', auth.secret).update(raw).digest('hex')}`;
      if (!same(got, want)) {
        throw new VerifyError('X-Hub-Signature-256 does not match the body and the secret');
      }
      return;
    }
    case 'path':
      if (pathSecret === undefined) throw new VerifyError('missing the secret path segment');
      if (!same(pathSecret, auth.secret)) throw new VerifyError('wrong secret path segment');
      return;
  }
}
