import type { RelayEvent } from '../../core/event.ts';
import type { Payload } from '../delivery.ts';
import type { Format } from './format.ts';

/** The registry's envelope media type (v1: what 2.8.2 sends and what receivers expect). */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

const HEADERS = ['content-type', EVENTS_MEDIA_TYPE];
// Each event's envelope is `{"events":[<event>]}`: the event is what lies between these.
const OPEN = '{"events":[';
const CLOSE = ']}';

/**
 * The registry's own request body, `{"events":[...]}`: one event as received (its stored
 * envelope, sent as is), or a batch joined from the stored envelopes without re-parsing.
 */
export const envelopeFormat: Format = {
  render(events: readonly RelayEvent[]): Payload {
    const first = events[0];
    if (events.length === 1 && first !== undefined)
      return { body: first.envelope, headers: HEADERS };
    const inner = events.map((e) => e.envelope.slice(OPEN.length, -CLOSE.length));
    return { body: `${OPEN}${inner.join(',')}${CLOSE}`, headers: HEADERS };
  },
};
