import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { RegistryError, type RegistryFailure } from '../core/errors.ts';
import { isEventKind } from '../core/kinds.ts';
import { targetKinds, type RelayEvent } from '../core/event.ts';
import {
  acceptedId,
  isProvisional,
  FACTS,
  type FactName,
  type FactsWanted,
  type ImageFacts,
  type ImageFactsSource,
  type Prepared,
} from '../core/image.ts';
import { redactUrl } from '../core/redact.ts';
import { RegistryClient, type RegistryListener, type RegistryPlan } from './client.ts';
import {
  classify,
  isDigest,
  isRepository,
  isTag,
  readContent,
  readReferrers,
  referrerTag,
  resolveTag,
  type ContentFacts,
  type Referrers,
} from './manifest.ts';

/** What metrics hear of the registries beyond each request. */
export interface RegistriesListener extends RegistryListener {
  onCache(registry: string, hit: boolean): void;
  /** Facts were ready for an endpoint `seconds` after it asked (or it stopped waiting). */
  onFactsReady(
    registry: string,
    seconds: number,
    outcome: 'facts' | RegistryFailure | 'wait',
  ): void;
}

/** One registry's state, as `GET /api/v1/registries` and the status page show it. */
export interface RegistryState {
  readonly name: string;
  readonly url: string;
  readonly hosts: readonly string[];
  readonly auth: string;
  /** `unknown` until the first answer, `ok` after a good one, `failing` after a failure. */
  readonly state: 'unknown' | 'ok' | 'failing';
  readonly lastSuccessAt: string | undefined;
  readonly lastError:
    { readonly reason: string; readonly message: string; readonly at: string } | undefined;
  readonly cachedDigests: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A tag resolved for one accepted event, decided once and shared by every endpoint. */
type Resolution =
  | {
      readonly kind: 'resolved';
      readonly id: string;
      readonly digest: string;
      readonly mediaType: string | undefined;
      readonly size: number | undefined;
    }
  | { readonly kind: 'duplicate'; readonly of: string }
  | { readonly kind: 'unresolved'; readonly reason: string };

/** A bounded map whose oldest entry goes first; a read makes an entry the newest. */
class Lru<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();
  constructor(max: number) {
    this.#max = max;
  }
  get size(): number {
    return this.#map.size;
  }
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.#map.delete(key);
    this.#map.set(key, v);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
  }
  delete(key: string): void {
    this.#map.delete(key);
  }
}

/** A read in flight or done; `value` once it succeeded, so a hit needs no await and no timer. */
interface Known<T> {
  readonly read: Promise<T>;
  value?: T;
}

function known<T>(read: Promise<T>): Known<T> {
  const k: Known<T> = { read };
  read.then(
    (v) => {
      k.value = v;
    },
    () => undefined,
  );
  return k;
}

class Registry {
  readonly client: RegistryClient;
  readonly content: Lru<Known<ContentFacts>>;
  readonly referrers: Lru<Known<Referrers> & { at: number }>;
  state: RegistryState['state'] = 'unknown';
  lastSuccessAt: number | undefined;
  lastError: { reason: string; message: string; at: number } | undefined;

  constructor(client: RegistryClient) {
    this.client = client;
    this.content = new Lru(client.plan.cacheEntries);
    this.referrers = new Lru(client.plan.cacheEntries);
  }
}

/** Events whose prepared form is kept for the other endpoints (a few seconds' worth at most). */
const PREPARED_KEPT = 4096;
/** Digest-derived ids remembered for de-duplication, at most. */
const DERIVED_KEPT = 100_000;

/** The facts read from a manifest and its config (all but the referrers). */
const CONTENT_FACTS: ReadonlySet<FactName> = new Set(FACTS.filter((f) => f !== 'referrers'));

/**
 * The configured registries, as the endpoints' enrichment stage asks them. An event
 * selects a registry by its source (`sources[].registry`), its `request.host` or its
 * target URL's host, and nothing else: what an event names is only ever compared with
 * the config, never asked. Facts about a digest's content are read once and kept (bounded);
 * referrers are read again after `referrersMaxAge`. A tag-only push is resolved once for
 * all endpoints, and the outcome (digest and id, a re-send, or unresolved) is shared.
 */
export class Registries implements ImageFactsSource {
  readonly #byName = new Map<string, Registry>();
  readonly #byHost = new Map<string, Registry>();
  readonly #sources: ReadonlyMap<string, string>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #listener: RegistriesListener;
  readonly #dedupWindowMs: number;
  readonly #onResolved:
    ((registry: string, repository: string, tag: string, digest: string) => void) | undefined;
  /** Events made ready lately, by what was asked and the event's id (see prepare). */
  readonly #prepared = new Map<string, Promise<Prepared>>();
  readonly #wantedKeys = new WeakMap<FactsWanted, string>();
  /** Resolutions by the id an event was accepted under. */
  readonly #resolutions = new Lru<Promise<Resolution>>(10_000);
  /** Ids derived from a digest, by when and under which accepted id they were first seen. */
  readonly #derived = new Map<string, { first: string; at: number }>();

  constructor(
    plans: readonly RegistryPlan[],
    deps: {
      clock: Clock;
      log: Logger;
      listener: RegistriesListener;
      env: NodeJS.ProcessEnv;
      /** Source name → the registry its events are about (`sources[].registry`). */
      sources: ReadonlyMap<string, string>;
      /** `http.dedup.window`: how long a digest-derived id counts as seen. */
      dedupWindowMs: number;
      /** Told of every tag resolved for a tag-only push (what reconciliation then knows). */
      onResolved?:
        ((registry: string, repository: string, tag: string, digest: string) => void) | undefined;
    },
  ) {
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#listener = deps.listener;
    this.#sources = deps.sources;
    this.#dedupWindowMs = deps.dedupWindowMs;
    this.#onResolved = deps.onResolved;
    for (const plan of plans) {
      const registry = new Registry(new RegistryClient(plan, deps));
      this.#byName.set(plan.name, registry);
      for (const host of plan.hosts) this.#byHost.set(host.toLowerCase(), registry);
    }
  }

  get size(): number {
    return this.#byName.size;
  }

  /** A configured registry's client (for its reconciliation). */
  client(name: string): RegistryClient | undefined {
    return this.#byName.get(name)?.client;
  }

  /** The configured registry an event naming `host`, from `source`, is about. */
  registryFor(host: string | undefined, source: string): string | undefined {
    const named = this.#sources.get(source);
    if (named !== undefined) return named;
    return host === undefined ? undefined : this.#byHost.get(host.toLowerCase())?.client.plan.name;
  }

  /** Whether events naming `host`, or from `source`, are about a configured registry. */
  serves(host: string | undefined, source: string): boolean {
    return (
      this.#sources.has(source) || (host !== undefined && this.#byHost.has(host.toLowerCase()))
    );
  }

  #select(event: Json): Registry | undefined {
    const source = str(obj(event['relay'])?.['source']);
    const named = source === undefined ? undefined : this.#sources.get(source);
    if (named !== undefined) return this.#byName.get(named);
    const host = str(obj(event['request'])?.['host']);
    const byRequest = host === undefined ? undefined : this.#byHost.get(host.toLowerCase());
    if (byRequest !== undefined) return byRequest;
    const url = str(obj(event['target'])?.['url']);
    if (url === undefined) return undefined;
    try {
      return this.#byHost.get(new URL(url).host.toLowerCase());
    } catch {
      return undefined;
    }
  }

  async prepare(event: RelayEvent, wanted: FactsWanted | undefined): Promise<Prepared> {
    const provisional = isProvisional(event.id);
    if (wanted === undefined && !provisional) return { kind: 'event', event, facts: undefined };
    // Endpoints asking the same of one event share one answer: parsed and written once.
    const key = `${this.#wantedKey(wanted)}\u0000${event.id}`;
    let shared = this.#prepared.get(key);
    if (shared === undefined) {
      shared = this.#prepareOnce(event, wanted, provisional);
      this.#prepared.set(key, shared);
      if (this.#prepared.size > PREPARED_KEPT) {
        const oldest = this.#prepared.keys().next().value;
        if (oldest !== undefined) this.#prepared.delete(oldest);
      }
      const made = shared;
      // Facts that could not be read are not shared: the next endpoint may find them.
      void made.then((p) => {
        if (
          p.kind === 'event' &&
          p.facts?.unavailable !== undefined &&
          this.#prepared.get(key) === made
        ) {
          this.#prepared.delete(key);
        }
      });
    }
    const p = await shared;
    if (p.kind === 'duplicate' || p.event === event) return p;
    // This endpoint's own event (its attempts count), with the shared id and envelope.
    return {
      kind: 'event',
      event: { ...event, id: p.event.id, envelope: p.event.envelope },
      facts: p.facts,
    };
  }

  #wantedKey(wanted: FactsWanted | undefined): string {
    if (wanted === undefined) return '-';
    let key = this.#wantedKeys.get(wanted);
    if (key === undefined) {
      key = `${[...wanted.facts].sort().join(',')}/${String(wanted.waitMs)}`;
      this.#wantedKeys.set(wanted, key);
    }
    return key;
  }

  async #prepareOnce(
    event: RelayEvent,
    wanted: FactsWanted | undefined,
    provisional: boolean,
  ): Promise<Prepared> {
    const parsed = JSON.parse(event.envelope) as { events: [Json] };
    const ev = parsed.events[0];
    const target = obj(ev['target']) ?? {};
    const registry = this.#select(ev);
    const repository = str(target['repository']);
    let digest = str(target['digest']);
    let id = event.id;
    let resolved = false;
    let unavailable: string | undefined;
    if (provisional) {
      const outcome = await this.#resolution(event, ev, registry);
      if (outcome.kind === 'duplicate') return outcome;
      if (outcome.kind === 'resolved') {
        id = outcome.id;
        digest = outcome.digest;
        resolved = true;
        target['digest'] = outcome.digest;
        if (outcome.mediaType !== undefined && target['mediaType'] === undefined)
          target['mediaType'] = outcome.mediaType;
        if (outcome.size !== undefined && target['size'] === undefined) {
          target['size'] = outcome.size;
          target['length'] = outcome.size;
        }
      } else {
        // Unresolved: the id it would have had with no registry configured.
        id = acceptedId(event.id);
        unavailable = outcome.reason;
      }
      ev['id'] = id;
    }
    let facts: ImageFacts | undefined;
    const action = str(ev['action']);
    const kinds = targetKinds(target);
    // An event of another kind (a scan, a build…) naming a digest is about an image.
    const isManifest =
      ((action === 'push' || action === 'pull' || action === 'mount') &&
        kinds.length === 1 &&
        (kinds[0] === 'manifest' || (kinds[0] === 'tag' && provisional))) ||
      (action !== undefined && isEventKind(action) && digest !== undefined);
    if (
      wanted !== undefined &&
      isManifest &&
      repository !== undefined &&
      (digest !== undefined || unavailable !== undefined)
    ) {
      if (registry === undefined)
        facts = { registry: '', digest: digest ?? '', unavailable: 'no_registry' };
      else if (unavailable !== undefined || digest === undefined)
        facts = {
          registry: registry.client.plan.name,
          digest: '',
          unavailable: unavailable ?? 'no_digest',
        };
      else facts = await this.#facts(registry, repository, digest, str(target['tag']), wanted);
      if (resolved) facts = { ...facts, resolved: true };
      const relay = obj(ev['relay']) ?? {};
      relay['image'] = facts;
      ev['relay'] = relay;
    } else if (provisional && !resolved && unavailable !== undefined) {
      const relay = obj(ev['relay']) ?? {};
      relay['image'] = { registry: registry?.client.plan.name ?? '', digest: '', unavailable };
      ev['relay'] = relay;
    }
    return { kind: 'event', event: { ...event, id, envelope: JSON.stringify(parsed) }, facts };
  }

  /** One resolution per accepted event, waited for at most the registry's `wait`. */
  #resolution(event: RelayEvent, ev: Json, registry: Registry | undefined): Promise<Resolution> {
    const known = this.#resolutions.get(event.id);
    if (known !== undefined) return known;
    const made = this.#resolve(event, ev, registry);
    this.#resolutions.set(event.id, made);
    return made;
  }

  async #resolve(event: RelayEvent, ev: Json, registry: Registry | undefined): Promise<Resolution> {
    const target = obj(ev['target']) ?? {};
    const repository = str(target['repository']);
    const tag = str(target['tag']);
    if (registry === undefined) return { kind: 'unresolved', reason: 'no_registry' };
    if (repository === undefined || tag === undefined || !isRepository(repository) || !isTag(tag)) {
      return { kind: 'unresolved', reason: 'bad_reference' };
    }
    const name = registry.client.plan.name;
    const started = this.#clock.now();
    const waited = new AbortController();
    const head = this.#recorded(registry, resolveTag(registry.client, repository, tag));
    const outcome = await Promise.race([
      head.then(
        (r) => r,
        (err: unknown) => reasonOf(err),
      ),
      this.#clock.sleep(registry.client.plan.waitMs, waited.signal).then(
        () => 'wait' as const,
        () => 'wait' as const,
      ),
    ]);
    waited.abort();
    if (typeof outcome === 'string') {
      this.#listener.onFactsReady(name, (this.#clock.now() - started) / 1000, outcome);
      return { kind: 'unresolved', reason: outcome === 'wait' ? 'timeout' : outcome };
    }
    const type = str(obj(ev['relay'])?.['type']) ?? 'events';
    const id = `${type}-${createHash('sha256')
      .update(JSON.stringify([repository, tag, outcome.digest]))
      .digest('base64url')
      .slice(0, 32)}`;
    const now = this.#clock.now();
    for (const [key, seen] of this.#derived) {
      if (now - seen.at <= this.#dedupWindowMs) break;
      this.#derived.delete(key);
    }
    const seen = this.#derived.get(id);
    if (seen !== undefined && seen.first !== event.id) return { kind: 'duplicate', of: seen.first };
    if (seen === undefined) {
      this.#onResolved?.(name, repository, tag, outcome.digest);
      this.#derived.set(id, { first: event.id, at: now });
      // Bounded like ingest's recent ids: the oldest is forgotten first.
      if (this.#derived.size > DERIVED_KEPT) {
        const oldest = this.#derived.keys().next().value;
        if (oldest !== undefined) this.#derived.delete(oldest);
      }
    }
    return { kind: 'resolved', id, ...outcome };
  }

  async #facts(
    registry: Registry,
    repository: string,
    digest: string,
    tag: string | undefined,
    wanted: FactsWanted,
  ): Promise<ImageFacts> {
    const name = registry.client.plan.name;
    if (!isRepository(repository) || !isDigest(digest)) {
      return { registry: name, digest, unavailable: 'bad_reference' };
    }
    const started = this.#clock.now();
    const content = this.#content(registry, repository, digest);
    const refs = wanted.facts.has('referrers')
      ? this.#referrers(registry, repository, digest)
      : undefined;
    let facts = content.value;
    let referrers = refs?.value;
    // Known already (the usual case after an event's first endpoint): no await, no timer.
    if (facts === undefined || (refs !== undefined && referrers === undefined)) {
      const waited = new AbortController();
      const all = Promise.all([content.read, refs?.read]).then(
        (r) => r,
        (err: unknown) => reasonOf(err),
      );
      const outcome = await Promise.race([
        all,
        this.#clock.sleep(wanted.waitMs ?? registry.client.plan.waitMs, waited.signal).then(
          () => 'wait' as const,
          () => 'wait' as const,
        ),
      ]);
      waited.abort();
      const seconds = (this.#clock.now() - started) / 1000;
      if (typeof outcome === 'string') {
        this.#listener.onFactsReady(name, seconds, outcome);
        return { registry: name, digest, unavailable: outcome === 'wait' ? 'timeout' : outcome };
      }
      [facts, referrers] = outcome;
    }
    this.#listener.onFactsReady(name, (this.#clock.now() - started) / 1000, 'facts');
    const out: Record<string, unknown> = { registry: name, digest };
    for (const fact of CONTENT_FACTS) {
      const value = (facts as Record<string, unknown>)[fact];
      if (wanted.facts.has(fact) && value !== undefined) out[fact] = value;
    }
    // cosign's tag schema: a `sha256-<hex>.sig` tag names what it signs.
    const byTag = tag === undefined ? undefined : referrerTag(tag);
    const subject = facts.subject ?? byTag?.subject;
    if (wanted.facts.has('subject') && subject !== undefined) {
      out['subject'] = subject;
      out['refers'] = byTag?.kind ?? classify(facts.artifactType).kind;
    }
    if (referrers !== undefined) {
      out['signed'] = referrers.signatures.length > 0;
      out['signatures'] = referrers.signatures;
      out['sboms'] = referrers.sboms;
      out['attestations'] = referrers.attestations;
    }
    return out as unknown as ImageFacts;
  }

  #content(registry: Registry, repository: string, digest: string): Known<ContentFacts> {
    const key = digest;
    const hit = registry.content.get(key);
    if (hit !== undefined) {
      this.#listener.onCache(registry.client.plan.name, true);
      return hit;
    }
    this.#listener.onCache(registry.client.plan.name, false);
    const read = this.#recorded(
      registry,
      readContent(
        registry.client,
        repository,
        digest,
        (child) => this.#content(registry, repository, child).read,
      ),
    );
    const entry = known(read);
    registry.content.set(key, entry);
    // A failure is not kept: the next event asks again (the registry may be back).
    read.catch(() => {
      if (registry.content.get(key) === entry) registry.content.delete(key);
    });
    return entry;
  }

  #referrers(registry: Registry, repository: string, digest: string): Known<Referrers> {
    const key = `${repository}@${digest}`;
    const hit = registry.referrers.get(key);
    const now = this.#clock.now();
    if (hit !== undefined && now - hit.at < registry.client.plan.referrersMaxAgeMs) {
      this.#listener.onCache(registry.client.plan.name, true);
      return hit;
    }
    this.#listener.onCache(registry.client.plan.name, false);
    const read = this.#recorded(registry, readReferrers(registry.client, repository, digest));
    const entry = Object.assign(known(read), { at: now });
    registry.referrers.set(key, entry);
    read.catch(() => {
      if (registry.referrers.get(key) === entry) registry.referrers.delete(key);
    });
    return entry;
  }

  /** Keeps the registry's state from how `work` ends, and logs a change of state once. */
  #recorded<T>(registry: Registry, work: Promise<T>): Promise<T> {
    return work.then(
      (value) => {
        if (registry.state !== 'ok' && registry.state !== 'unknown') {
          this.#log.info({ registry: registry.client.plan.name }, 'registry answers again');
        }
        registry.state = 'ok';
        registry.lastSuccessAt = this.#clock.now();
        return value;
      },
      (err: unknown) => {
        if (!(err instanceof RegistryError)) throw err;
        // A manifest that is gone is the event's concern, not the registry's health.
        if (err.reason === 'not_found') throw err;
        const changed = registry.state !== 'failing' || registry.lastError?.reason !== err.reason;
        registry.state = 'failing';
        registry.lastError = { reason: err.reason, message: err.message, at: this.#clock.now() };
        if (changed) {
          this.#log.warn(
            { registry: registry.client.plan.name, reason: err.reason, err: err.message },
            'registry request failed: events go on without its facts until it answers',
          );
        }
        throw err;
      },
    );
  }

  states(): RegistryState[] {
    return [...this.#byName.values()].map((r) => {
      const plan = r.client.plan;
      const iso = (ms: number | undefined) =>
        ms === undefined ? undefined : new Date(ms).toISOString();
      return {
        name: plan.name,
        url: redactUrl(plan.url),
        hosts: plan.hosts,
        auth: plan.auth.kind,
        state: r.state,
        lastSuccessAt: iso(r.lastSuccessAt),
        lastError:
          r.lastError === undefined
            ? undefined
            : {
                reason: r.lastError.reason,
                message: r.lastError.message,
                at: iso(r.lastError.at) ?? '',
              },
        cachedDigests: r.content.size,
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byName.values()].map((r) => r.client.close()));
  }
}

function reasonOf(err: unknown): RegistryFailure {
  if (err instanceof RegistryError) return err.reason;
  throw err;
}
