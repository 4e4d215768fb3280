import * as oauth from 'oauth4webapi';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Clock } from '../core/clock.ts';
import { DeliveryError } from '../core/errors.ts';
import type { Sink } from '../core/sink.ts';
import type { Delivery } from './delivery.ts';

/** `auth.oauth2` as the endpoint's stage uses it. */
export interface OAuth2Plan {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
  readonly audience?: string | undefined;
  readonly clientAuth: 'basic' | 'post';
  /** A private CA for the token server (PEM). */
  readonly ca?: Buffer | undefined;
}

/** A token is renewed this long before the token server said it expires. */
const EARLY_MS = 30_000;
/** A token whose answer says no lifetime is kept this long. */
const DEFAULT_LIFETIME_MS = 5 * 60_000;
/** The token request's own bound: a token server that does not answer is a failed attempt. */
const TOKEN_TIMEOUT_MS = 10_000;

/** Why the relay holds no token: the token server refused, failed or could not be reached. */
export class TokenError extends Error {}

/**
 * The client-credentials grant (RFC 6749 §4.4) with oauth4webapi: one token at a time for
 * the endpoint, kept until shortly before it expires and shared by every request; requests
 * that need one while it is being fetched share that request. A token the receiver refused
 * (401) is dropped, and the next request fetches another.
 */
export class TokenSource {
  readonly #plan: OAuth2Plan;
  readonly #clock: Clock;
  readonly #as: oauth.AuthorizationServer;
  readonly #client: oauth.Client;
  readonly #auth: oauth.ClientAuth;
  /** undici's fetch, with the token server's CA: oauth4webapi takes it as its fetch. */
  readonly #fetch: (url: string, init: unknown) => ReturnType<typeof undiciFetch>;
  #token: { value: string; until: number } | undefined;
  #pending: Promise<string> | undefined;
  /** Token requests made (for the tests and the logs). */
  requests = 0;

  constructor(plan: OAuth2Plan, clock: Clock) {
    this.#plan = plan;
    this.#clock = clock;
    const url = new URL(plan.tokenUrl);
    this.#as = { issuer: url.origin, token_endpoint: plan.tokenUrl };
    this.#client = { client_id: plan.clientId };
    this.#auth =
      plan.clientAuth === 'post'
        ? oauth.ClientSecretPost(plan.clientSecret)
        : oauth.ClientSecretBasic(plan.clientSecret);
    const dispatcher = plan.ca === undefined ? undefined : new Agent({ connect: { ca: plan.ca } });
    this.#fetch = (input, init) =>
      undiciFetch(input, {
        ...(init as Parameters<typeof undiciFetch>[1]),
        ...(dispatcher === undefined ? {} : { dispatcher }),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
  }

  /** A token for the next request: the cached one while it is fresh, else a new one. */
  token(): Promise<string> {
    const now = this.#clock.now();
    if (this.#token !== undefined && now < this.#token.until) {
      return Promise.resolve(this.#token.value);
    }
    this.#pending ??= this.#request().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** The receiver refused `token`: the next request fetches another. */
  refused(token: string): void {
    if (this.#token?.value === token) this.#token = undefined;
  }

  async #request(): Promise<string> {
    this.requests += 1;
    const params = new URLSearchParams();
    if (this.#plan.scopes.length > 0) params.set('scope', this.#plan.scopes.join(' '));
    if (this.#plan.audience !== undefined) params.set('audience', this.#plan.audience);
    let result: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.clientCredentialsGrantRequest(
        this.#as,
        this.#client,
        this.#auth,
        params,
        // undici's Response is the one global fetch returns, under another declaration.
        { [oauth.customFetch]: this.#fetch as unknown as typeof fetch },
      );
      result = await oauth.processClientCredentialsResponse(this.#as, this.#client, response);
    } catch (err) {
      throw new TokenError(describe(err), { cause: err });
    }
    const lifetimeMs =
      typeof result.expires_in === 'number' && result.expires_in > 0
        ? result.expires_in * 1000
        : DEFAULT_LIFETIME_MS;
    // Renewed early, but never sooner than half its lifetime (short-lived tokens).
    const early = Math.min(EARLY_MS, lifetimeMs / 2);
    this.#token = { value: result.access_token, until: this.#clock.now() + lifetimeMs - early };
    return result.access_token;
  }
}

/** What went wrong at the token URL, in words without the secret or a token. */
function describe(err: unknown): string {
  if (err instanceof oauth.ResponseBodyError) {
    const why = err.error_description === undefined ? '' : `: ${err.error_description}`;
    return `the token server answered ${String(err.status)} ${err.error}${why}`;
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    return `the token server refused the client (${String(err.status)}, ${err.cause[0]?.scheme ?? 'challenge'})`;
  }
  // Another status than the grant's answers (a 5xx): the response is the error's cause.
  const response = err instanceof oauth.OperationProcessingError ? err.cause : undefined;
  const status = (response as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number') return `the token server answered ${String(status)}`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (err instanceof Error && err.name === 'TimeoutError') {
    return `the token server did not answer within ${String(TOKEN_TIMEOUT_MS)} ms`;
  }
  if (typeof code === 'string') return `the token server cannot be reached: ${code}`;
  return `the token request failed: ${err instanceof Error ? err.message : String(err)}`;
}

/** The HTTP stage as the OAuth2 stage drives it: one attempt with extra request headers. */
export interface AuthorizedHttp extends Sink<Delivery> {
  write(delivery: Delivery, extraHeaders?: readonly string[]): Promise<void>;
  /** Reports an attempt that could not be made (no token) as a failed one, and returns it. */
  failedBeforeRequest(delivery: Delivery, code: string, message: string): DeliveryError;
}

/**
 * Sends each attempt with `Authorization: Bearer <token>`. No token is a failed attempt
 * (code `OAUTH2`, in the attempts log; the breaker and backoff apply). A 401 with a token
 * that was cached drops it and repeats the request once with a new one.
 */
export class OAuth2Sink implements Sink<Delivery> {
  readonly #next: AuthorizedHttp;
  readonly #tokens: TokenSource;

  constructor(next: AuthorizedHttp, tokens: TokenSource) {
    this.#next = next;
    this.#tokens = tokens;
  }

  async #token(delivery: Delivery): Promise<string> {
    try {
      return await this.#tokens.token();
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      throw this.#next.failedBeforeRequest(delivery, 'OAUTH2', `no OAuth2 token: ${err.message}`);
    }
  }

  async write(delivery: Delivery): Promise<void> {
    const requestsBefore = this.#tokens.requests;
    const token = await this.#token(delivery);
    try {
      await this.#next.write(delivery, ['authorization', `Bearer ${token}`]);
    } catch (err) {
      // A 401 with a token from the cache (it expired early, or was revoked): one new token,
      // one more request. A token fetched for this very attempt is not fetched again.
      if (
        err instanceof DeliveryError &&
        err.status === 401 &&
        this.#tokens.requests === requestsBefore
      ) {
        this.#tokens.refused(token);
        const fresh = await this.#token(delivery);
        await this.#next.write(delivery, ['authorization', `Bearer ${fresh}`]);
        return;
      }
      throw err;
    }
  }

  close(): Promise<void> {
    return this.#next.close();
  }

  destroy(): void {
    this.#next.destroy();
  }
}
