/**
 * One registry notification event as the relay carries it: the few fields routing needs,
 * and `envelope`, the registry request body for this event alone (`{"events":[<event>]}`,
 * every field as received, unknown ones included). It is serialised once at ingest and
 * shared by every endpoint, and the parsed object is not kept: a pending event costs about
 * the size of its JSON. A string rather than a Buffer: V8 keeps it on the heap at one byte
 * per character, while small Buffers share 8 KiB slabs that one long-pending event keeps
 * alive whole, and allocating them was 7% of ingest CPU.
 */
export interface RelayEvent {
  readonly id: string;
  readonly action: string;
  readonly mediaType: string | undefined;
  readonly envelope: string;
  /** Clock time (ms) at which ingest accepted the event: the start of delivery latency. */
  readonly acceptedAt: number;
  /** The event's position in the journal, once journaled (journal mode only). */
  seq?: number;
}

/** Why an envelope was refused, and where in it. */
export class EnvelopeError extends Error {
  readonly code = 'RELAY_BAD_ENVELOPE';
  readonly where: string;

  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'EnvelopeError';
    this.where = where;
  }
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
 * Validates a parsed envelope `{"events":[...]}`. Each event needs a non-empty string `id`,
 * a string `action` and an object `target`; everything else is carried through untouched.
 * Throws EnvelopeError naming the first problem and where it is.
 */
export function readEnvelope(parsed: unknown, acceptedAt: number): RelayEvent[] {
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
    const mediaType = target['mediaType'];
    return {
      id,
      action: shared(action),
      mediaType: typeof mediaType === 'string' && mediaType !== '' ? shared(mediaType) : undefined,
      // One flat string: a template literal would leave a rope of three pieces per event.
      envelope: JSON.stringify({ events: [event] }),
      acceptedAt,
    };
  });
}
