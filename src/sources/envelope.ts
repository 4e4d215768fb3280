// Senders that speak the registry's own envelope: CNCF Distribution 3 and GitLab's
// container registry (a Distribution fork with a `rename` action and more fields).
// https://distribution.github.io/distribution/about/notifications/
// https://gitlab.com/gitlab-org/container-registry/-/blob/master/notifications/event.go
// and notifications/queue.go (RepoRenamed, RepoDeleted, TagDeleted)
import { array, defined, isObject, object, optionalString, type Adapter } from './adapter.ts';
import type { RepositoryDetail } from '../core/kinds.ts';

/**
 * What an event says of its repository as a whole: GitLab's `rename` (with
 * `target.rename: {type, from, to}`), and its repository delete (a `delete` whose target
 * names the repository alone).
 */
function repositoryChange(event: Record<string, unknown>): RepositoryDetail | undefined {
  const target = event['target'];
  if (!isObject(target)) return undefined;
  const rename = target['rename'];
  if (event['action'] === 'rename' && isObject(rename)) {
    return defined({
      change: 'renamed' as const,
      type: optionalString(rename['type']),
      from: optionalString(rename['from']),
      to: optionalString(rename['to']),
    });
  }
  const alone =
    event['action'] === 'delete' &&
    optionalString(target['repository']) !== undefined &&
    ['digest', 'tag', 'url', 'mediaType'].every((k) => optionalString(target[k]) === undefined);
  return alone ? { change: 'deleted' } : undefined;
}

/**
 * The events as they came: every field is kept (Distribution 3's OCI descriptor fields
 * `artifactType`, `annotations`, `platform`; GitLab's `rename`, `actor.user_type`, `meta`).
 * A rename or a repository delete also gets `relay.repository`; its action stays the
 * registry's own. Ingest then checks each has an id, an action and a target.
 */
export const envelope: Adapter = (req) => {
  const body = object(req.body, 'body');
  return {
    kind: 'events',
    events: array(body['events'], 'events').map((e, i) => {
      const event = object(e, `events[${String(i)}]`);
      const change = repositoryChange(event);
      if (change === undefined) return event;
      const relay = isObject(event['relay']) ? event['relay'] : {};
      return { ...event, relay: { ...relay, repository: change } };
    }),
  };
};
