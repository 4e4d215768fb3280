// zot: the events extension's CloudEvents (HTTP sink; binary or structured mode).
// https://zotregistry.dev/latest/articles/events/
import { isoTime, object, optionalString, registryEvent, string, type Adapter } from './adapter.ts';

const ACTIONS: Readonly<Record<string, string>> = {
  'zotregistry.image.updated': 'push',
  'zotregistry.image.deleted': 'delete',
};

const header = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/**
 * An image updated (pushed) or deleted: repository (`name`), reference (a tag, or a
 * digest), digest and media type. `zotregistry.repository.created` and
 * `zotregistry.image.lint_failed` are ignored. The id is the CloudEvent's.
 */
export const zot: Adapter = (req) => {
  const binary = header(req.headers['ce-type']) !== undefined;
  const body = object(req.body, 'body');
  const type = binary ? (header(req.headers['ce-type']) ?? '') : string(body['type'], 'type');
  const action = ACTIONS[type];
  if (action === undefined) return { kind: 'ignored', type };
  const id = binary
    ? string(header(req.headers['ce-id']), 'ce-id header')
    : string(body['id'], 'id');
  const time = binary ? header(req.headers['ce-time']) : body['time'];
  const data = binary ? body : object(body['data'], 'data');
  const repository = string(data['name'], 'data.name');
  const reference = optionalString(data['reference']);
  const digest =
    optionalString(data['digest']) ?? (reference?.includes(':') === true ? reference : undefined);
  const tag = reference !== undefined && !reference.includes(':') ? reference : undefined;
  return {
    kind: 'events',
    events: [
      registryEvent({
        id: `zot-${id}`,
        timestamp: isoTime(time) ?? new Date(req.receivedAt).toISOString(),
        action,
        repository,
        tag,
        digest,
        mediaType: optionalString(data['mediaType']),
      }),
    ],
  };
};
