// GitHub: `package` and `registry_package` webhooks for container packages (ghcr.io).
// https://docs.github.com/en/webhooks/webhook-events-and-payloads#package
// https://docs.github.com/en/webhooks/webhook-events-and-payloads#registry_package
import {
  derivedId,
  isoTime,
  manifestUrl,
  object,
  optionalString,
  registryEvent,
  splitReference,
  string,
  urlHost,
  type Adapter,
} from './adapter.ts';

const CONTAINER_TYPES = new Set(['container', 'docker']);

/**
 * A published or updated container package version is a push: repository and tag from its
 * `package_url` (`ghcr.io/owner/name:tag`), digest from its container metadata (or the
 * version's name, which for containers is the digest), the sender as actor. The id is the
 * delivery's (`X-GitHub-Delivery`), the same on GitHub's redelivery.
 */
export const github: Adapter = (req) => {
  const header = req.headers['x-github-event'];
  const event = Array.isArray(header) ? header[0] : header;
  if (event !== 'package' && event !== 'registry_package') {
    return { kind: 'ignored', type: event ?? '(no X-GitHub-Event)' };
  }
  const body = object(req.body, 'body');
  const action = string(body['action'], 'action');
  const pkg = object(body[event], event);
  const packageType = (
    optionalString(pkg['package_type']) ??
    optionalString(pkg['ecosystem']) ??
    ''
  ).toLowerCase();
  if (!CONTAINER_TYPES.has(packageType))
    return { kind: 'ignored', type: `${event}:${packageType}` };
  if (action !== 'published' && action !== 'updated') {
    return { kind: 'ignored', type: `${event}.${action}` };
  }
  const version = object(pkg['package_version'], `${event}.package_version`);
  const meta = object(version['container_metadata'] ?? {}, 'package_version.container_metadata');
  const tagInfo = object(meta['tag'] ?? {}, 'package_version.container_metadata.tag');
  const packageUrl = optionalString(version['package_url']);
  const ref = packageUrl === undefined ? undefined : splitReference(packageUrl);
  const owner = object(pkg['owner'] ?? {}, `${event}.owner`);
  const repository =
    ref?.repository ??
    `${string(owner['login'], `${event}.owner.login`)}/${string(pkg['name'], `${event}.name`)}`;
  const versionName = optionalString(version['name']);
  const digest =
    optionalString(tagInfo['digest']) ??
    (versionName?.startsWith('sha256:') === true ? versionName : undefined);
  const tag = optionalString(tagInfo['name']) ?? ref?.tag;
  const registry = object(pkg['registry'] ?? {}, `${event}.registry`);
  const registryUrl = optionalString(registry['url']);
  const host = ref?.host ?? urlHost(registryUrl);
  const delivery = req.headers['x-github-delivery'];
  const deliveryId = Array.isArray(delivery) ? delivery[0] : delivery;
  const sender = object(body['sender'] ?? {}, 'sender');
  return {
    kind: 'events',
    events: [
      registryEvent({
        id:
          deliveryId !== undefined && deliveryId !== ''
            ? `github-${deliveryId}`
            : derivedId('github', event, action, version['id'], digest, tag),
        timestamp:
          isoTime(version['updated_at']) ??
          isoTime(version['created_at']) ??
          isoTime(pkg['updated_at']) ??
          new Date(req.receivedAt).toISOString(),
        action: 'push',
        repository,
        tag,
        digest,
        url: manifestUrl(host, repository, digest),
        actor: optionalString(sender['login']),
        host,
      }),
    ],
  };
};
