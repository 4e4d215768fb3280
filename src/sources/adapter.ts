import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SourceBodyError } from '../core/errors.ts';

/** The senders the relay reads webhooks from. */
export const SOURCE_TYPES = [
  'harbor',
  'quay',
  'dockerhub',
  'gitlab',
  'github',
  'zot',
  'artifactory',
  'distribution',
] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/** One request from a sender, as an adapter reads it. */
export interface SourceRequest {
  readonly headers: IncomingHttpHeaders;
  /** The body parsed as JSON. */
  readonly body: unknown;
  /** When the relay received it (epoch ms): the timestamp of events whose sender gives none. */
  readonly receivedAt: number;
  /**
   * The event the sender was configured for, when the request's URL declares it
   * (`?event=build_failure`): Quay names the event nowhere in its body.
   */
  readonly declared?: string | undefined;
}

/** What an adapter made of a request. */
export type Normalized =
  | {
      readonly kind: 'events';
      /** Registry events (Distribution's model), original body not yet attached. */
      readonly events: readonly Record<string, unknown>[];
    }
  | {
      /** A kind of event the relay does not map (a ping, another product's domain): answered 202. */
      readonly kind: 'ignored';
      readonly type: string;
    };

/** Turns one sender's body into registry events. Pure: no I/O, no clock but `receivedAt`. */
export type Adapter = (req: SourceRequest) => Normalized;

export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** `value` as an object, or a SourceBodyError naming `where`. */
export function object(value: unknown, where: string): Record<string, unknown> {
  if (!isObject(value))
    throw new SourceBodyError(where, `expected an object, got ${kindOf(value)}`);
  return value;
}

/** `value` as a non-empty string, or a SourceBodyError naming `where`. */
export function string(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new SourceBodyError(where, `expected a non-empty string, got ${kindOf(value)}`);
  }
  return value;
}

/** A string when it is one and not empty; else undefined. */
export const optionalString = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** A finite number when it is one. */
export const optionalNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/** `value` as an array, or a SourceBodyError naming `where`. */
export function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value))
    throw new SourceBodyError(where, `expected an array, got ${kindOf(value)}`);
  return value;
}

/**
 * A stable id for a sender that sends none: a digest of what makes the event itself, so a
 * re-sent body gets the same id and is de-duplicated within `http.dedup.window`.
 */
export function derivedId(type: SourceType, ...parts: readonly unknown[]): string {
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
  return `${type}-${digest.slice(0, 32)}`;
}

/** Epoch seconds or milliseconds, or an RFC 3339 date, as RFC 3339; undefined if unreadable. */
export function isoTime(value: unknown): string | undefined {
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Before 2001-09-09 in ms is 1e12: anything smaller is seconds.
    ms = value < 1e12 ? value * 1000 : value;
  } else if (typeof value === 'string' && value !== '') {
    ms = Date.parse(value);
  }
  // A zero time (0, or Go's zero time "0001-01-01T00:00:00Z" as GitHub sends it) means
  // the sender does not know: the caller falls back to the next field or the receipt time.
  if (ms === undefined || !(ms > 0)) return undefined;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The host of an absolute URL (`https://quay.example.com/…`), or undefined if it is none. */
export function urlHost(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return new URL(value).host || undefined;
  } catch {
    return undefined;
  }
}

/** `repo[:tag]` or `repo@digest` split off a host: `harbor.dev/library/busybox:latest`. */
export function splitReference(ref: string): {
  host: string | undefined;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
} {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1) || undefined;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1) || undefined;
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  // A first component with a dot, a colon or "localhost" is a host (Docker's rule).
  const isHost = slash >= 0 && (/[.:]/.test(first) || first === 'localhost');
  return {
    host: isHost ? first : undefined,
    repository: isHost ? rest.slice(slash + 1) : rest,
    tag,
    digest,
  };
}

/** The registry API URL of a manifest, when its host and digest are known. */
export function manifestUrl(
  host: string | undefined,
  repository: string,
  digest: string | undefined,
): string | undefined {
  return host === undefined || digest === undefined
    ? undefined
    : `https://${host}/v2/${repository}/manifests/${digest}`;
}

/** A registry event with the fields every adapter fills, and no empty ones. */
export function registryEvent(fields: {
  id: string;
  timestamp: string;
  action: string;
  /** Absent (or '') for what is about no one repository (a retention run, a namespace's quota). */
  repository?: string | undefined;
  tag?: string | undefined;
  digest?: string | undefined;
  mediaType?: string | undefined;
  size?: number | undefined;
  url?: string | undefined;
  actor?: string | undefined;
  host?: string | undefined;
  extraTarget?: Record<string, unknown> | undefined;
  /** A kind's detail, kept at `relay.<action>` (see core/kinds.ts). */
  detail?: object | undefined;
}): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  if (fields.mediaType !== undefined) target['mediaType'] = fields.mediaType;
  if (fields.size !== undefined) {
    target['size'] = fields.size;
    target['length'] = fields.size;
  }
  if (fields.digest !== undefined) target['digest'] = fields.digest;
  if (fields.repository !== undefined && fields.repository !== '')
    target['repository'] = fields.repository;
  if (fields.url !== undefined) target['url'] = fields.url;
  if (fields.tag !== undefined) target['tag'] = fields.tag;
  Object.assign(target, fields.extraTarget);
  return {
    id: fields.id,
    timestamp: fields.timestamp,
    action: fields.action,
    target,
    request: fields.host === undefined ? {} : { host: fields.host },
    actor: fields.actor === undefined ? {} : { name: fields.actor },
    source: {},
    ...(fields.detail === undefined ? {} : { relay: { [fields.action]: fields.detail } }),
  };
}

/** T with its possibly-undefined fields made optional and never undefined. */
export type Defined<T> = {
  [K in keyof T as undefined extends T[K] ? never : K]: T[K];
} & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** `value` without its undefined fields: a detail object carries only what the sender said. */
export function defined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Defined<T>;
}

/** An object, or undefined when it has no field left (see defined). */
export function nonEmpty<T extends object>(value: T): Defined<T> | undefined {
  const d = defined(value);
  return Object.keys(d).length === 0 ? undefined : d;
}

/** The strings of an array (others skipped), or [] for what is not an array. */
export const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
