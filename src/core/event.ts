import { EnvelopeError } from './errors.ts';
import { isEventKind } from './kinds.ts';
import { RELAY_USER_AGENT_PREFIX } from './user-agent.ts';
/**
 * One registry notification event as the relay carries it: its id, and `envelope`, the registry request body for this event alone (`{"events":[<event>]}`,
 * every field as received, unknown ones included). It is serialised once at ingest and
 * shared by every endpoint, and the parsed object is not kept: a pending event costs about
 * the size of its JSON. A string rather than a Buffer: V8 keeps it on the heap at one byte
 * per character, while small Buffers share 8 KiB slabs that one long-pending event keeps
 * alive whole, and allocating them was 7% of ingest CPU.
 */
export interface RelayEvent {
  readonly id: string;
  readonly envelope: string;
  /** Clock time (ms) at which ingest accepted the event: the start of delivery latency. */
  readonly acceptedAt: number;
  /**
   * Attempts already made to deliver it, by any relay, when a shared backend keeps the
   * count (NATS: deliveries before this one). Absent: the retrying sink counts its own.
   */
  readonly attempts?: number | undefined;
  /**
   * With tracing on: the trace it belongs to (its ingest span's `traceparent`, then its
   * `tracestate` after a newline; see core/tracing.ts). Set by ingest before storage keeps
   * the event, and kept by storage with it. Absent with tracing off.
   */
  trace?: string | undefined;
}

/**
 * An event as ingest hands it to storage: with the action and media type a journal lists
 * it by (`dead-letters list`). Pending events in memory do not keep them.
 */
export interface NewEvent extends RelayEvent {
  readonly action: string;
  readonly mediaType: string | undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

// JSON.parse makes a new string for every value; the few actions and media types a
// registry sends are kept once each instead of once per pending event.
const SHARED_MAX = 256;
const sharedStrings = new Map<string, string>();
function shared(value: string): string {
  const known = sharedStrings.get(value);
  if (known !== undefined) return known;
  if (sharedStrings.size < SHARED_MAX && value.length <= 200) sharedStrings.set(value, value);
  return value;
}

/**
 * `s` as one contiguous string. V8's JSON.stringify returns a rope of parts whose lengths
 * double (32, 64, 128, ... characters), about 190 bytes more than the text for a 700-byte
 * event, held for as long as the event is pending. Converting the string to a number
 * flattens it in place, and the next garbage collection drops the rope around it (the
 * `flatstr` technique; measured with the memory benchmark).
 */
function flat(s: string): string {
  void Number(s);
  return s;
}

/** What an event's target is, as filters and formats name it. */
export type TargetKind = 'manifest' | 'blob' | 'tag';

const MANIFEST: readonly TargetKind[] = ['manifest'];
const BLOB: readonly TargetKind[] = ['blob'];
const TAG: readonly TargetKind[] = ['tag'];
// A delete by digest (`{digest, repository}`) looks the same for a manifest and a blob.
const MANIFEST_OR_BLOB: readonly TargetKind[] = ['manifest', 'blob'];

const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

/**
 * What the target is, from what the registry wrote: the URL's last route (`/manifests/` or
 * `/blobs/`), else a tag without digest (a tag delete), else the media type, else a tag
 * (a manifest). A bare `{digest, repository}` delete could be either a manifest or a blob.
 */
export function targetKinds(target: Readonly<Record<string, unknown>>): readonly TargetKind[] {
  const route = /\/(manifests|blobs)\/[^/]*$/.exec(text(target['url']) ?? '');
  if (route) return route[1] === 'manifests' ? MANIFEST : BLOB;
  const digest = text(target['digest']);
  const tag = text(target['tag']);
  if (tag !== undefined && digest === undefined) return TAG;
  const mediaType = text(target['mediaType']);
  if (mediaType !== undefined) return /manifest|index/.test(mediaType) ? MANIFEST : BLOB;
  return tag === undefined ? MANIFEST_OR_BLOB : MANIFEST;
}

/**
 * The fields filters decide on. Made at ingest from the parsed event and not kept: a
 * pending event carries only its envelope, and the journal records whom it is for.
 */
export interface EventFacts {
  readonly action: string;
  readonly mediaType: string | undefined;
  readonly repository: string | undefined;
  readonly tag: string | undefined;
  /**
   * Every tag the event names, when it names more than its target's (a vulnerability or a
   * build about several tags: `relay.<action>.tags`); filters on tags match any of them.
   */
  readonly tags?: readonly string[] | undefined;
  readonly digest: string | undefined;
  /** The registry host clients used (`request.host`). */
  readonly host: string | undefined;
  readonly targets: readonly TargetKind[];
  /** The source that sent it: a configured source's name, or `events` for `POST /events`. */
  readonly source: string;
}

/** An accepted event, with the facts its routing is decided on. */
export interface Accepted {
  readonly event: NewEvent;
  readonly facts: EventFacts;
  /** A pull the registry notified for the relay's own read of a manifest (see RELAY_USER_AGENT). */
  readonly ownRead?: boolean | undefined;
}

/** The tags a kind's detail lists (`relay.<kind>.tags`) beside the target's, if any. */
function detailTags(
  detail: Readonly<Record<string, unknown>>,
  tag: string | undefined,
): readonly string[] | undefined {
  const listed = detail['tags'];
  if (!Array.isArray(listed) || listed.length === 0) return undefined;
  const all = new Set<string>(tag === undefined ? [] : [tag]);
  for (const t of listed) if (typeof t === 'string' && t !== '') all.add(t);
  return [...all];
}

/**
 * Validates a parsed envelope `{"events":[...]}`. Each event needs a non-empty string `id`,
 * a string `action` and an object `target`, and an event of a kind beyond the registry's
 * actions (`scan`, `build`…) its detail object at `relay.<action>`; everything else is
 * carried through untouched.
 * Throws EnvelopeError naming the first problem and where it is.
 */
export function readEnvelope(parsed: unknown, acceptedAt: number, source = 'events'): Accepted[] {
  if (!isObject(parsed)) {
    throw new EnvelopeError('body', `expected an object {"events":[...]}, got ${kindOf(parsed)}`);
  }
  const events = parsed['events'];
  if (!Array.isArray(events)) {
    throw new EnvelopeError('events', `expected an array of events, got ${kindOf(events)}`);
  }
  return events.map((event: unknown, i) => {
    const where = `events[${i}]`;
    if (!isObject(event)) {
      throw new EnvelopeError(where, `expected an event object, got ${kindOf(event)}`);
    }
    const { id, action, target } = event;
    if (typeof id !== 'string' || id === '') {
      throw new EnvelopeError(`${where}.id`, `expected a non-empty string, got ${kindOf(id)}`);
    }
    if (typeof action !== 'string') {
      throw new EnvelopeError(`${where}.action`, `expected a string, got ${kindOf(action)}`);
    }
    if (!isObject(target)) {
      throw new EnvelopeError(`${where}.target`, `expected an object, got ${kindOf(target)}`);
    }
    // A kind beyond the registry's actions is its detail: without it, it is not that kind.
    let detail: Record<string, unknown> | undefined;
    if (isEventKind(action)) {
      const relay = event['relay'];
      const found = isObject(relay) ? relay[action] : undefined;
      if (!isObject(found)) {
        throw new EnvelopeError(
          `${where}.relay.${action}`,
          `expected the detail object an event of kind ${action} carries (docs/events.md), got ${kindOf(found)}`,
        );
      }
      detail = found;
    }
    const mediaType = text(target['mediaType']);
    let envelope: string;
    try {
      envelope = flat(JSON.stringify({ events: [event] }));
    } catch (err) {
      // JSON.parse takes any depth; serialising recurses and runs out of stack first.
      if (!(err instanceof RangeError)) throw err;
      throw new EnvelopeError(where, 'nested too deeply to relay (thousands of levels)');
    }
    const sharedAction = shared(action);
    const request = event['request'];
    const userAgent = isObject(request) ? request['useragent'] : undefined;
    const ownRead =
      action === 'pull' &&
      typeof userAgent === 'string' &&
      userAgent.startsWith(RELAY_USER_AGENT_PREFIX);
    const sharedMediaType = mediaType === undefined ? undefined : shared(mediaType);
    const tag = text(target['tag']);
    const tags = detail === undefined ? undefined : detailTags(detail, tag);
    return {
      event: {
        id,
        action: sharedAction,
        mediaType: sharedMediaType,
        envelope,
        acceptedAt,
      },
      facts: {
        action: sharedAction,
        mediaType: sharedMediaType,
        repository: text(target['repository']),
        tag,
        tags,
        digest: text(target['digest']),
        host: isObject(request) ? text(request['host']) : undefined,
        targets: targetKinds(target),
        source,
      },
      ...(ownRead ? { ownRead } : {}),
    };
  });
}
