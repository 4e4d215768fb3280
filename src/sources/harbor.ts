// Harbor: project webhooks, in its Default JSON and in its CloudEvents format.
// https://goharbor.io/docs/latest/working-with-projects/project-configuration/configure-webhooks/
import {
  array,
  derivedId,
  isoTime,
  manifestUrl,
  object,
  optionalNumber,
  optionalString,
  registryEvent,
  splitReference,
  string,
  type Adapter,
  type Normalized,
} from './adapter.ts';

/** Harbor's event types (Default) and CloudEvents types, as registry actions. */
const ACTIONS: Readonly<Record<string, string>> = {
  PUSH_ARTIFACT: 'push',
  PULL_ARTIFACT: 'pull',
  DELETE_ARTIFACT: 'delete',
  'harbor.artifact.pushed': 'push',
  'harbor.artifact.pulled': 'pull',
  'harbor.artifact.deleted': 'delete',
};

/**
 * One registry event per resource (artifact) of a push, pull or delete. Harbor sends no
 * media type; the URL is made from the resource's host, repository and digest. Default
 * format events carry no id: it is derived from type, time, operator and resource.
 */
export const harbor: Adapter = (req): Normalized => {
  const body = object(req.body, 'body');
  const cloudEvent = body['specversion'] !== undefined;
  const type = string(body['type'], 'type');
  const action = ACTIONS[type];
  if (action === undefined) return { kind: 'ignored', type };
  const data = object(
    cloudEvent ? body['data'] : body['event_data'],
    cloudEvent ? 'data' : 'event_data',
  );
  const repo = object(data['repository'], `${cloudEvent ? 'data' : 'event_data'}.repository`);
  const fullName =
    optionalString(repo['repo_full_name']) ??
    [optionalString(repo['namespace']), optionalString(repo['name'])].filter(Boolean).join('/');
  const repository = string(fullName === '' ? undefined : fullName, 'repository.repo_full_name');
  const resources = array(data['resources'], `${cloudEvent ? 'data' : 'event_data'}.resources`);
  const operator = optionalString(body['operator']);
  const timestamp =
    (cloudEvent ? isoTime(body['time']) : isoTime(optionalNumber(body['occur_at']))) ??
    new Date(req.receivedAt).toISOString();
  const ceId = cloudEvent ? string(body['id'], 'id') : undefined;
  return {
    kind: 'events',
    events: resources.map((r, i) => {
      const where = `resources[${String(i)}]`;
      const resource = object(r, where);
      const digest = optionalString(resource['digest']);
      const rawTag = optionalString(resource['tag']);
      // A pull by digest names the digest as its tag.
      const tag = rawTag === digest || rawTag?.startsWith('sha256:') === true ? undefined : rawTag;
      const ref = optionalString(resource['resource_url']);
      const host = ref === undefined ? undefined : splitReference(ref).host;
      return registryEvent({
        id:
          ceId !== undefined
            ? resources.length === 1
              ? `harbor-${ceId}`
              : `harbor-${ceId}-${String(i)}`
            : derivedId('harbor', type, body['occur_at'], operator, repository, digest, rawTag),
        timestamp,
        action,
        repository,
        tag,
        digest,
        url: manifestUrl(host, repository, digest),
        actor: operator,
        host,
      });
    }),
  };
};
