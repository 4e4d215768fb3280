// Quay: repository notifications, "Push to Repository" (repo_push).
// https://docs.quay.io/guides/notifications.html
import {
  array,
  derivedId,
  isObject,
  object,
  optionalString,
  registryEvent,
  splitReference,
  string,
  type Adapter,
} from './adapter.ts';
import { SourceBodyError } from '../core/errors.ts';

/**
 * One push event per updated tag. Quay names no event type in the body, no digest, no
 * time and no user: a body with `updated_tags` is a push, and its id is derived from the
 * repository and tags (so two identical pushes within the re-send window are one event).
 * Other notifications (builds, vulnerabilities) are ignored.
 */
export const quay: Adapter = (req) => {
  const body = object(req.body, 'body');
  if (!('updated_tags' in body)) {
    const type =
      'build_id' in body
        ? 'build'
        : isObject(body['vulnerability'])
          ? 'vulnerability_found'
          : 'unknown';
    return { kind: 'ignored', type };
  }
  const repository = string(body['repository'], 'repository');
  // A list of tags; Quay.io's older payload has an object of tag to image id instead.
  const updated = body['updated_tags'];
  const tags = isObject(updated)
    ? Object.keys(updated)
    : array(updated, 'updated_tags').map((t, i) => string(t, `updated_tags[${String(i)}]`));
  if (tags.length === 0) throw new SourceBodyError('updated_tags', 'no tag was updated');
  const dockerUrl = optionalString(body['docker_url']);
  const host = dockerUrl === undefined ? undefined : splitReference(dockerUrl).host;
  const timestamp = new Date(req.receivedAt).toISOString();
  return {
    kind: 'events',
    events: tags.map((tag) =>
      registryEvent({
        id: derivedId('quay', repository, tag, tags),
        timestamp,
        action: 'push',
        repository,
        tag,
        host,
      }),
    ),
  };
};
