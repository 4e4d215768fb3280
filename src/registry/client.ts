import { request, type Dispatcher } from 'undici';
import type { Clock } from '../core/clock.ts';
import { RegistryError, type RegistryFailure } from '../core/errors.ts';
import { buildTransport, type TlsSettings } from '../core/transport.ts';
import { parseChallenge, type Challenge } from './challenge.ts';
import { RELAY_USER_AGENT } from '../core/user-agent.ts';

/** How the relay signs in to a registry. */
export type RegistryAuth =
  | { readonly kind: 'anonymous' }
  /** Basic auth; with a token-auth registry, the credentials the token realm is asked with. */
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** A fixed bearer token, sent as it is. */
  | { readonly kind: 'bearer'; readonly token: string };

/** One configured registry, as the config compiles it. */
export interface RegistryPlan {
  readonly name: string;
  /** The API's base URL (`https://registry.example.com`): the only origin asked, with its realm. */
  readonly url: string;
  /** The hosts whose events it serves (`request.host`, the target URL's host). */
  readonly hosts: readonly string[];
  readonly auth: RegistryAuth;
  readonly tls: TlsSettings | undefined;
  readonly proxy: string | undefined;
  readonly timeoutMs: number;
  /** Requests in flight at once to this registry (and its token realm). */
  readonly concurrency: number;
  /** How long an endpoint waits for this registry's answers by default. */
  readonly waitMs: number;
  /** Digests whose facts are kept. */
  readonly cacheEntries: number;
  /** How long what refers to a digest (signatures, SBOMs) is taken as known. */
  readonly referrersMaxAgeMs: number;
  /** Walking the registry to find what its events missed; undefined: never. */
  readonly reconcile: ReconcilePlan | undefined;
}

export interface ReconcilePlan {
  readonly intervalMs: number;
  /** Glob patterns over the catalog, or (with `catalog: false`) the repositories themselves. */
  readonly repositories: readonly string[];
  readonly catalog: boolean;
  /** Requests per second the walk may make. */
  readonly budget: number;
  /** The first walk (nothing known yet) reports what it finds, rather than only recording it. */
  readonly reportFirstPass: boolean;
}

/** What a request is for, as metrics count it. */
export type RequestKind =
  'resolve' | 'manifest' | 'blob' | 'referrers' | 'token' | 'catalog' | 'tags' | 'head';

/** How a registry client reports its requests (metrics implement it). */
export interface RegistryListener {
  onRequest(registry: string, kind: RequestKind, outcome: string): void;
}

export interface RegistryAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** The largest answer read (a manifest is at most 4 MiB in Distribution; configs are small). */
const MAX_BODY = 4 * 1024 * 1024;
/** A token is used until this long before it expires. */
const TOKEN_MARGIN_MS = 5_000;
/** The Docker token spec's default lifetime when the realm names none. */
const DEFAULT_TOKEN_SECONDS = 60;
const TOKENS_KEPT = 1_000;

/** One header of a registry's answer (the first, when it came several times). */
export const header = (a: RegistryAnswer, name: string): string | undefined => {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * One registry's HTTP client: its own keep-alive connections (TLS and proxy as for an
 * endpoint), at most `concurrency` requests at once, and the sign-in flow written once:
 * basic credentials where the registry asks for Basic, and the registry token flow where
 * it answers `WWW-Authenticate: Bearer realm=…,service=…,scope=…` (Distribution with token
 * auth, Docker Hub, Harbor, GHCR, Quay): a token is asked of the realm that registry names,
 * with the configured credentials, kept per scope until shortly before it expires, and the
 * request is made again with it. Only the configured URL and that realm are ever asked.
 */
export class RegistryClient {
  readonly plan: RegistryPlan;
  readonly #clock: Clock;
  readonly #listener: RegistryListener;
  readonly #env: NodeJS.ProcessEnv;
  readonly #origin: URL;
  readonly #dispatcher: Dispatcher;
  /** Dispatchers for token realms on other origins, by origin. */
  readonly #realms = new Map<string, Dispatcher>();
  /** Bearer tokens by scope, with when they stop being used. */
  readonly #tokens = new Map<string, { token: string; until: number }>();
  /** Token requests in flight, by scope. */
  readonly #asking = new Map<string, Promise<string>>();
  /** The scheme the registry answered with last: Basic credentials are then sent at once. */
  #basicFirst = false;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    plan: RegistryPlan,
    deps: { clock: Clock; listener: RegistryListener; env: NodeJS.ProcessEnv },
  ) {
    this.plan = plan;
    this.#clock = deps.clock;
    this.#listener = deps.listener;
    this.#env = deps.env;
    this.#origin = new URL(plan.url);
    this.#dispatcher = this.#transport(this.#origin);
  }

  #transport(url: URL): Dispatcher {
    return buildTransport({
      url,
      tls: this.plan.tls,
      proxy: this.plan.proxy,
      env: this.#env,
      connections: this.plan.concurrency,
      connectTimeoutMs: Math.min(this.plan.timeoutMs, 10_000),
    }).dispatcher;
  }

  /**
   * `method` on `path` (below `/v2/`), signed in for `scope`. Answers whatever status the
   * registry gave once sign-in is done; throws RegistryError when it cannot be asked at
   * all, or refuses the credentials.
   */
  async call(
    kind: RequestKind,
    method: 'GET' | 'HEAD',
    path: string,
    opts: { scope: string; accept?: string | undefined },
  ): Promise<RegistryAnswer> {
    await this.#slot();
    try {
      const sent = this.#authorization(opts.scope);
      let answer = await this.#send(kind, method, path, opts, sent);
      if (answer.status !== 401) return answer;
      const challenge = parseChallenge(header(answer, 'www-authenticate'));
      // Another request may have signed in for this scope meanwhile.
      const now = this.#authorization(opts.scope);
      const retry =
        now !== undefined && now !== sent ? now : await this.#answer(challenge, opts.scope);
      if (retry === undefined) {
        throw new RegistryError(
          this.plan.name,
          'unauthorized',
          `${method} ${path} answered 401 and there is no way to sign in`,
        );
      }
      answer = await this.#send(kind, method, path, opts, retry);
      if (answer.status === 401) {
        throw new RegistryError(
          this.plan.name,
          'unauthorized',
          `${method} ${path} answered 401 with the configured credentials: check registries[].auth`,
        );
      }
      return answer;
    } finally {
      this.#release();
    }
  }

  #authorization(scope: string): string | undefined {
    const auth = this.plan.auth;
    if (auth.kind === 'bearer') return `Bearer ${auth.token}`;
    const token = this.#tokens.get(scope);
    if (token !== undefined && token.until > this.#clock.now()) return `Bearer ${token.token}`;
    if (auth.kind === 'basic' && this.#basicFirst) return basicHeader(auth.username, auth.password);
    return undefined;
  }

  /** The Authorization to retry with after a 401 challenge, or undefined if there is none. */
  async #answer(challenge: Challenge | undefined, scope: string): Promise<string | undefined> {
    const auth = this.plan.auth;
    if (challenge?.scheme === 'basic') {
      if (auth.kind !== 'basic') return undefined;
      this.#basicFirst = true;
      return basicHeader(auth.username, auth.password);
    }
    if (challenge?.scheme !== 'bearer' || auth.kind === 'bearer') return undefined;
    // Requests that met the same challenge at once share one token request.
    let pending = this.#asking.get(scope);
    if (pending === undefined) {
      pending = this.#token(challenge, scope).finally(() => this.#asking.delete(scope));
      this.#asking.set(scope, pending);
    }
    return `Bearer ${await pending}`;
  }

  /** Asks the realm the registry named for a token for `scope` (the registry's, if it named one). */
  async #token(
    challenge: Extract<Challenge, { scheme: 'bearer' }>,
    scope: string,
  ): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw new RegistryError(
        this.plan.name,
        'bad_answer',
        `the token realm is not a URL: ${challenge.realm.slice(0, 200)}`,
      );
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryError(
        this.plan.name,
        'bad_answer',
        `the token realm is not http(s): ${realm.protocol}`,
      );
    }
    const wanted = challenge.scope ?? scope;
    if (challenge.service !== undefined) realm.searchParams.set('service', challenge.service);
    realm.searchParams.set('scope', wanted);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': RELAY_USER_AGENT,
    };
    const auth = this.plan.auth;
    if (auth.kind === 'basic') headers['authorization'] = basicHeader(auth.username, auth.password);
    let dispatcher =
      realm.origin === this.#origin.origin ? this.#dispatcher : this.#realms.get(realm.origin);
    if (dispatcher === undefined) {
      dispatcher = this.#transport(realm);
      // One registry names one realm; a bound keeps a registry that varies it from growing this.
      if (this.#realms.size < 4) this.#realms.set(realm.origin, dispatcher);
    }
    const answer = await this.#request('token', 'GET', realm, headers, dispatcher);
    if (answer.status === 401 || answer.status === 403) {
      throw new RegistryError(
        this.plan.name,
        'unauthorized',
        `the token realm refused the credentials (${String(answer.status)}): check registries[].auth`,
      );
    }
    if (answer.status !== 200) {
      throw new RegistryError(
        this.plan.name,
        answer.status >= 500 ? 'server_error' : 'bad_answer',
        `the token realm answered ${String(answer.status)}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new RegistryError(
        this.plan.name,
        'bad_answer',
        'the token realm answered something that is not JSON',
      );
    }
    const body = (parsed ?? {}) as Record<string, unknown>;
    const token = typeof body['token'] === 'string' ? body['token'] : body['access_token'];
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError(
        this.plan.name,
        'bad_answer',
        'the token realm answered without a token',
      );
    }
    const seconds =
      typeof body['expires_in'] === 'number' && body['expires_in'] > 0
        ? body['expires_in']
        : DEFAULT_TOKEN_SECONDS;
    if (this.#tokens.size >= TOKENS_KEPT) this.#tokens.clear();
    this.#tokens.set(scope, { token, until: this.#clock.now() + seconds * 1000 - TOKEN_MARGIN_MS });
    return token;
  }

  async #send(
    kind: RequestKind,
    method: 'GET' | 'HEAD',
    path: string,
    opts: { accept?: string | undefined },
    authorization: string | undefined,
  ): Promise<RegistryAnswer> {
    const url = new URL(`/v2/${path}`, this.#origin);
    const headers: Record<string, string> = { 'user-agent': RELAY_USER_AGENT };
    if (opts.accept !== undefined) headers['accept'] = opts.accept;
    if (authorization !== undefined) headers['authorization'] = authorization;
    return this.#request(kind, method, url, headers, this.#dispatcher);
  }

  async #request(
    kind: RequestKind,
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    dispatcher: Dispatcher,
  ): Promise<RegistryAnswer> {
    let res;
    try {
      res = await request(url, {
        method,
        headers,
        dispatcher,
        headersTimeout: this.plan.timeoutMs,
        bodyTimeout: this.plan.timeoutMs,
      });
    } catch (err) {
      throw this.#failed(kind, method, url, err);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > MAX_BODY) {
          res.body.destroy();
          this.#listener.onRequest(this.plan.name, kind, 'too_large');
          throw new RegistryError(
            this.plan.name,
            'too_large',
            `${method} ${url.pathname}: the answer is larger than 4 MiB`,
          );
        }
        chunks.push(buf);
      }
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw this.#failed(kind, method, url, err);
    }
    this.#listener.onRequest(this.plan.name, kind, String(res.statusCode));
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
  }

  /** A request that got no answer: counted, and named `timeout` or `unreachable`. */
  #failed(kind: RequestKind, method: string, url: URL, err: unknown): RegistryError {
    const reason: RegistryFailure = isTimeout(err) ? 'timeout' : 'unreachable';
    this.#listener.onRequest(this.plan.name, kind, reason);
    return new RegistryError(
      this.plan.name,
      reason,
      `${method} ${url.pathname}: ${describe(err)}`,
      {
        cause: err,
      },
    );
  }

  async #slot(): Promise<void> {
    if (this.#inFlight < this.plan.concurrency) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#inFlight--;
    else next();
  }

  async close(): Promise<void> {
    await Promise.all([this.#dispatcher, ...this.#realms.values()].map((d) => d.close()));
  }
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function isTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code} ${message}` : message;
}
