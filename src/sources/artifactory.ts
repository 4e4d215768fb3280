// JFrog Artifactory: webhooks of the Docker domain (tag pushed, deleted, promoted).
// https://jfrog.com/help/r/jfrog-platform-administration-documentation/domain-docker
import {
  derivedId,
  isObject,
  object,
  optionalNumber,
  optionalString,
  registryEvent,
  string,
  urlHost,
  type Adapter,
} from './adapter.ts';
import { SourceBodyError } from '../core/errors.ts';

/** A promotion copies or moves a tag into another repository: there, it is a push. */
const ACTIONS: Readonly<Record<string, string>> = {
  pushed: 'push',
  deleted: 'delete',
  promoted: 'push',
};

/**
 * One event per Docker tag event: image name as repository, tag, the manifest's sha256 as
 * digest, its size, and a manifest media type from the file name (`list.manifest.json` is
 * a manifest list). Other domains (artifacts, builds, release bundles) are ignored.
 * Artifactory sends no event id in the default payload: it is derived from the event.
 */
export const artifactory: Adapter = (req) => {
  const outer = object(req.body, 'body');
  // The "event" wrapper, with `data` as a JSON string, is another shape JFrog documents.
  const body = isObject(outer['event']) ? outer['event'] : outer;
  const domain = string(body['domain'], 'domain');
  const eventType = string(body['event_type'], 'event_type');
  const action = ACTIONS[eventType];
  if (domain !== 'docker' || action === undefined) {
    return { kind: 'ignored', type: `${domain}.${eventType}` };
  }
  let rawData = body['data'];
  if (typeof rawData === 'string') {
    try {
      rawData = JSON.parse(rawData) as unknown;
    } catch {
      throw new SourceBodyError('data', 'a string that is not JSON');
    }
  }
  const data = object(rawData, 'data');
  const repository = string(data['image_name'], 'data.image_name');
  const tag = optionalString(data['tag']);
  const sha = optionalString(data['sha256']);
  const digest = sha === undefined ? undefined : sha.startsWith('sha256:') ? sha : `sha256:${sha}`;
  const name = optionalString(data['name']) ?? '';
  const host = urlHost(optionalString(outer['jpd_origin']) ?? optionalString(body['jpd_origin']));
  return {
    kind: 'events',
    events: [
      registryEvent({
        id:
          optionalString(body['id']) !== undefined
            ? `artifactory-${String(body['id'])}`
            : derivedId('artifactory', eventType, data['repo_key'], data['path'], sha, tag),
        timestamp: new Date(req.receivedAt).toISOString(),
        action,
        repository,
        tag,
        digest,
        size: optionalNumber(data['size']),
        mediaType: name.startsWith('list.')
          ? 'application/vnd.docker.distribution.manifest.list.v2+json'
          : name === 'manifest.json'
            ? 'application/vnd.docker.distribution.manifest.v2+json'
            : undefined,
        actor: optionalString(body['source']),
        host,
        extraTarget:
          optionalString(data['repo_key']) === undefined
            ? undefined
            : { repoKey: data['repo_key'] },
      }),
    ],
  };
};
