import { targetKinds } from '../../core/event.ts';
import { isEventKind, stateOf } from '../../core/kinds.ts';
import type { RelayEvent } from '../../core/event.ts';
import type { Payload } from '../delivery.ts';

/** Turns one request's events into its body and content headers. */
export interface Format {
  /** Throws FormatError when the events cannot be expressed in this format. */
  render(events: readonly RelayEvent[]): Payload;
}

export type Json = Record<string, unknown>;
/** An object field as an object (anything else as `{}`), for formats that read events. */
export const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
/** A non-empty string field, else undefined. */
export const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

const PAST: Readonly<Record<string, string>> = {
  push: 'pushed',
  pull: 'pulled',
  mount: 'mounted',
  delete: 'deleted',
  rename: 'renamed',
};

/**
 * The names formats use for one registry event, derived once: what a message, a
 * CloudEvent or a template needs without digging through the event.
 */
export interface EventView {
  readonly event: Json;
  readonly id: string;
  readonly action: string;
  /**
   * `pushed`, `pulled`, `mounted`, `deleted`, `renamed` (an unknown action as it is); for
   * the other kinds, what happened: the scan `completed`, the build `failed`… (`state`).
   */
  readonly actioned: string;
  readonly timestamp: string | undefined;
  /**
   * `manifest`, `blob`, `tag`, or `artifact` for a delete by digest (manifest or blob);
   * `repository` for a repository's rename or delete; for the other kinds, the kind
   * (`scan`, `build`…).
   */
  readonly kind: string;
  /** The kind's detail (`relay.<action>`, or `relay.repository`), if the event has one. */
  readonly detail: Json | undefined;
  /** What happened, in one word (see core/kinds.ts stateOf); for registry actions, `actioned`. */
  readonly state: string;
  readonly repository: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
  readonly mediaType: string | undefined;
  /** `repository:tag`, else `repository@digest`, else the repository. */
  readonly subject: string | undefined;
  readonly actor: string | undefined;
  /** The registry host clients used (`request.host`), else the node (`source.addr`). */
  readonly host: string | undefined;
  /** The registry node that sent the event (`source.addr`). */
  readonly node: string | undefined;
  /** The facts enrichment added (`relay.image`), if any. */
  readonly image: Json | undefined;
  /** The image's platforms as `os/architecture[/variant]`, comma-separated. */
  readonly platforms: string | undefined;
  /** Whether a signature refers to it, when the facts say. */
  readonly signed: boolean | undefined;
}

function platformsText(platforms: unknown): string | undefined {
  if (!Array.isArray(platforms) || platforms.length === 0) return undefined;
  return platforms
    .map((p) => {
      const o = obj(p);
      const base = `${str(o['os']) ?? '?'}/${str(o['architecture']) ?? '?'}`;
      const variant = str(o['variant']);
      return variant === undefined ? base : `${base}/${variant}`;
    })
    .join(', ');
}

export function viewOf(event: Json): EventView {
  const target = obj(event['target']);
  const kinds = targetKinds(target);
  const action = str(event['action']) ?? '';
  const repository = str(target['repository']);
  const tag = str(target['tag']);
  const digest = str(target['digest']);
  const slash = repository?.lastIndexOf('/') ?? -1;
  const node = str(obj(event['source'])['addr']);
  const relay = obj(event['relay']);
  const image = relay['image'] === undefined ? undefined : obj(relay['image']);
  const eventKind = isEventKind(action) ? action : undefined;
  const repositoryChange = eventKind === undefined && relay['repository'] !== undefined;
  const detailOf = eventKind ?? (repositoryChange ? 'repository' : undefined);
  const detail = detailOf === undefined ? undefined : obj(relay[detailOf]);
  const actioned =
    eventKind === undefined ? (PAST[action] ?? action) : stateOf(eventKind, detail ?? {});
  let subject = repository;
  if (repository !== undefined && tag !== undefined) subject = `${repository}:${tag}`;
  else if (repository !== undefined && digest !== undefined) subject = `${repository}@${digest}`;
  return {
    event,
    id: str(event['id']) ?? '',
    action,
    actioned,
    timestamp: str(event['timestamp']),
    kind:
      eventKind ??
      (repositoryChange
        ? 'repository'
        : kinds.length === 1
          ? (kinds[0] ?? 'artifact')
          : 'artifact'),
    detail,
    state: actioned,
    repository,
    namespace: repository === undefined || slash < 0 ? undefined : repository.slice(0, slash),
    name: repository === undefined ? undefined : repository.slice(slash + 1),
    tag,
    digest,
    mediaType: str(target['mediaType']),
    subject,
    actor: str(obj(event['actor'])['name']),
    host: str(obj(event['request'])['host']) ?? node,
    node,
    image,
    platforms: platformsText(image?.['platforms']),
    signed: typeof image?.['signed'] === 'boolean' ? image['signed'] : undefined,
  };
}

/** The registry event inside a RelayEvent (formats other than the envelope re-read it). */
export function registryEvent(event: RelayEvent): Json {
  const parsed = JSON.parse(event.envelope) as { events: [Json] };
  return parsed.events[0];
}
