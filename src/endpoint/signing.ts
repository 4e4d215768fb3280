import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

/** The key bytes of a Standard Webhooks secret: base64, with or without `whsec_`. */
export function secretKey(secret: string): Buffer {
  const base64 = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  const key = Buffer.from(base64, 'base64');
  // Buffer.from skips what is not base64; a round trip shows whether anything was.
  if (key.toString('base64').replace(/=+$/, '') !== base64.replace(/=+$/, '')) {
    throw new Error('not base64: a secret is "whsec_" followed by base64');
  }
  if (key.length < 24 || key.length > 64) {
    throw new Error(`the key is ${key.length} bytes; Standard Webhooks asks for 24 to 64`);
  }
  return key;
}

/**
 * Standard Webhooks signatures: `webhook-signature` is `v1,<base64 HMAC-SHA256>` of
 * `{webhook-id}.{webhook-timestamp}.{body}` under each key, space-separated, so a
 * receiver that knows any of the secrets (old or new during a rotation) can verify.
 * node:crypto's HMAC rather than the `standardwebhooks` package: the package signs with a
 * pure-JS SHA-256, and the tests verify these headers with it.
 */
export class Signer {
  readonly #keys: readonly Buffer[];

  constructor(secrets: readonly string[]) {
    this.#keys = secrets.map(secretKey);
  }

  signature(id: string, timestampSeconds: number, body: string): string {
    const signed = `${id}.${String(timestampSeconds)}.${body}`;
    return this.#keys
      .map((key) => `v1,${createHmac('sha256', key).update(signed).digest('base64')}`)
      .join(' ');
  }

  /** The three headers for one attempt, as flat `name, value` pairs. */
  headers(id: string, timestampSeconds: number, body: string): string[] {
    return [
      'webhook-id',
      id,
      'webhook-timestamp',
      String(timestampSeconds),
      'webhook-signature',
      this.signature(id, timestampSeconds, body),
    ];
  }
}
