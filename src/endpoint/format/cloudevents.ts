import { CloudEvent, HTTP } from 'cloudevents';
import type { RelayEvent } from '../../core/event.ts';
import type { Payload } from '../delivery.ts';
import { registryEvent, viewOf, type Format } from './format.ts';
import { FormatError } from '../../core/errors.ts';

/**
 * CloudEvents content modes (HTTP protocol binding 1.0): `binary` puts the attributes in
 * `ce-*` headers and the registry event in the body; `structured` sends one
 * `application/cloudevents+json` document; `batched` sends a JSON array of them
 * (`application/cloudevents-batch+json`), the only mode that carries several events.
 */
export type CloudEventsMode = 'binary' | 'structured' | 'batched';

const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';

/**
 * One CloudEvent per registry event: `id` the event id, `type` `registry.<kind>.<action>ed`
 * (`registry.manifest.pushed`, `registry.tag.deleted`…), `source` the configured one or
 * `//` + the registry node's address, `subject` `repository:tag` (or `@digest`), `time`
 * the event's timestamp, `data` the registry event as received.
 */
export function cloudEventsFormat(mode: CloudEventsMode, source: string | undefined): Format {
  const toCloudEvent = (event: RelayEvent): CloudEvent<Record<string, unknown>> => {
    const view = viewOf(registryEvent(event));
    const time = view.timestamp !== undefined && !Number.isNaN(Date.parse(view.timestamp));
    try {
      return new CloudEvent({
        specversion: '1.0',
        id: view.id,
        type: `registry.${view.kind}.${view.actioned}`,
        source: source ?? `//${view.node ?? view.host ?? 'registry'}`,
        ...(view.subject === undefined ? {} : { subject: view.subject }),
        ...(time ? { time: view.timestamp } : {}),
        datacontenttype: 'application/json',
        data: view.event,
      });
    } catch (err) {
      throw new FormatError(
        `event ${event.id} is not a valid CloudEvent: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  const headerPairs = (headers: Record<string, unknown>): string[] =>
    Object.entries(headers).flatMap(([k, v]) => [k.toLowerCase(), String(v)]);

  return {
    render(events: readonly RelayEvent[]): Payload {
      if (mode === 'batched') {
        const body = JSON.stringify(events.map((e) => toCloudEvent(e).toJSON()));
        return { body, headers: ['content-type', BATCH_CONTENT_TYPE] };
      }
      const [event] = events;
      if (event === undefined || events.length > 1) {
        throw new FormatError(`CloudEvents ${mode} mode carries one event per request`);
      }
      const message =
        mode === 'binary' ? HTTP.binary(toCloudEvent(event)) : HTTP.structured(toCloudEvent(event));
      return { body: String(message.body), headers: headerPairs(message.headers) };
    },
  };
}
