import type { Clock } from '../core/clock.ts';
import { RegistryError } from '../core/errors.ts';
import { header, type RegistryAnswer, type RegistryClient } from './client.ts';
import { isDigest, isRepository, isTag, MANIFEST_ACCEPT } from './manifest.ts';

// Listing a registry through its API: the catalog and each repository's tags (paginated
// with `n` and `Link`), and a manifest HEAD per tag, within a request budget.

const PAGE = 100;
/** Pages followed at most, so that a registry whose Link loops cannot hold a walk forever. */
const MAX_PAGES = 10_000;

/**
 * At most `perSecond` requests, spread evenly on the injected clock: each request waits for
 * its slot, so a walk never bursts above the budget.
 */
export class Budget {
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #next = 0;
  /** Requests made under this budget. */
  spent = 0;

  constructor(perSecond: number, clock: Clock) {
    this.#intervalMs = 1000 / perSecond;
    this.#clock = clock;
  }

  async take(signal?: AbortSignal): Promise<void> {
    const now = this.#clock.now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.#intervalMs;
    this.spent += 1;
    if (at > now) await this.#clock.sleep(at - now, signal);
  }
}

/** The next page's path from a `Link: </v2/…?last=…&n=…>; rel="next"` header, below /v2/. */
function nextPage(client: RegistryClient, answer: RegistryAnswer): string | undefined {
  const link = header(answer, 'link');
  const m = link === undefined ? null : /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!m?.[1]) return undefined;
  // Relative to the registry; an absolute link must point at the registry itself.
  const url = new URL(m[1], client.plan.url);
  if (url.origin !== new URL(client.plan.url).origin || !url.pathname.startsWith('/v2/')) {
    throw new RegistryError(
      client.plan.name,
      'bad_answer',
      `a Link header points elsewhere: ${url.origin}`,
    );
  }
  return `${url.pathname.slice(4)}${url.search}`;
}

function list(
  client: RegistryClient,
  answer: RegistryAnswer,
  field: string,
  what: string,
): string[] {
  if (answer.status !== 200) {
    const reason =
      answer.status === 403
        ? 'denied'
        : answer.status === 404
          ? 'not_found'
          : answer.status >= 500
            ? 'server_error'
            : 'bad_answer';
    throw new RegistryError(client.plan.name, reason, `${what}: answered ${String(answer.status)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    throw new RegistryError(client.plan.name, 'bad_answer', `${what}: not JSON`);
  }
  const values = (parsed as Record<string, unknown> | null)?.[field];
  // A repository without tags answers `"tags": null`.
  if (values === null || values === undefined) return [];
  if (!Array.isArray(values))
    throw new RegistryError(client.plan.name, 'bad_answer', `${what}: ${field} is not a list`);
  return values.filter((v): v is string => typeof v === 'string');
}

async function paged(
  client: RegistryClient,
  budget: Budget,
  kind: 'catalog' | 'tags',
  first: string,
  scope: string,
  field: string,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const out: string[] = [];
  let path: string | undefined = first;
  for (let page = 0; path !== undefined && page < MAX_PAGES; page++) {
    if (signal?.aborted === true)
      throw new RegistryError(client.plan.name, 'bad_answer', 'the walk was stopped');
    await budget.take(signal);
    const answer = await client.call(kind, 'GET', path, { scope });
    out.push(
      ...list(
        client,
        answer,
        field,
        kind === 'catalog' ? 'the catalog' : (first.split('/tags/')[0] ?? first),
      ),
    );
    path = nextPage(client, answer);
  }
  return out;
}

/** Every repository in the catalog (valid names only). */
export async function listCatalog(
  client: RegistryClient,
  budget: Budget,
  signal?: AbortSignal,
): Promise<string[]> {
  const all = await paged(
    client,
    budget,
    'catalog',
    `_catalog?n=${String(PAGE)}`,
    'registry:catalog:*',
    'repositories',
    signal,
  );
  return all.filter(isRepository);
}

/** Every tag of `repository` (valid tags only). Distribution 2.8 ignores `n` here and sends all. */
export async function listTags(
  client: RegistryClient,
  budget: Budget,
  repository: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const all = await paged(
    client,
    budget,
    'tags',
    `${repository}/tags/list?n=${String(PAGE)}`,
    `repository:${repository}:pull`,
    'tags',
    signal,
  );
  return all.filter(isTag);
}

/** What a tag points at, or undefined when it is gone (404). */
export async function headTag(
  client: RegistryClient,
  budget: Budget,
  repository: string,
  tag: string,
  signal?: AbortSignal,
): Promise<
  { digest: string; mediaType: string | undefined; size: number | undefined } | undefined
> {
  await budget.take(signal);
  const answer = await client.call('head', 'HEAD', `${repository}/manifests/${tag}`, {
    scope: `repository:${repository}:pull`,
    accept: MANIFEST_ACCEPT,
  });
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) {
    throw new RegistryError(
      client.plan.name,
      answer.status >= 500 ? 'server_error' : 'bad_answer',
      `${repository}:${tag}: answered ${String(answer.status)}`,
    );
  }
  const digest = header(answer, 'docker-content-digest');
  if (digest === undefined || !isDigest(digest)) {
    throw new RegistryError(
      client.plan.name,
      'bad_answer',
      `${repository}:${tag}: no Docker-Content-Digest`,
    );
  }
  const length = Number(header(answer, 'content-length'));
  return {
    digest,
    mediaType: header(answer, 'content-type')?.split(';')[0],
    size: Number.isFinite(length) && length > 0 ? length : undefined,
  };
}
