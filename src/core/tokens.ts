import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Checks `Authorization: Bearer <token>` against the configured tokens in constant time:
 * both sides are hashed to equal length first, and every token is compared, so neither
 * the length nor the position of a match shows in the answer's timing.
 */
export class BearerTokens {
  #digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  /** A reloaded config's tokens apply to the next request. */
  replace(tokens: readonly string[]): void {
    this.#digests = tokens.map(digest);
  }

  get required(): boolean {
    return this.#digests.length > 0;
  }

  allows(authorization: string | undefined): boolean {
    if (!this.required) return true;
    if (authorization === undefined) return false;
    const m = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(authorization);
    const given = digest(m?.[1] ?? '');
    let ok = false;
    for (const expected of this.#digests) ok = timingSafeEqual(given, expected) || ok;
    return ok && m !== null;
  }
}
