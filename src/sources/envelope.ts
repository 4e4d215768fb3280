// Senders that speak the registry's own envelope: CNCF Distribution 3 and GitLab's
// container registry (a Distribution fork with a `rename` action and more fields).
// https://distribution.github.io/distribution/about/notifications/
// https://gitlab.com/gitlab-org/container-registry/-/blob/master/notifications/event.go
import { array, object, type Adapter } from './adapter.ts';

/**
 * The events as they came: every field is kept (Distribution 3's OCI descriptor fields
 * `artifactType`, `annotations`, `platform`; GitLab's `rename`, `actor.user_type`, `meta`).
 * Ingest then checks each has an id, an action and a target.
 */
export const envelope: Adapter = (req) => {
  const body = object(req.body, 'body');
  return {
    kind: 'events',
    events: array(body['events'], 'events').map((e, i) => object(e, `events[${String(i)}]`)),
  };
};
