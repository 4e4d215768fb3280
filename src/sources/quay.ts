// Quay: repository notifications (Webhook POST). The body is the notification's event data,
// and names its event nowhere: https://docs.quay.io/guides/notifications.html,
// https://docs.redhat.com/en/documentation/red_hat_quay/3/html/about_quay_io/repository-events
// and notifications/notificationevent.py of https://github.com/quay/quay
import {
  array,
  defined,
  derivedId,
  isObject,
  nonEmpty,
  object,
  optionalNumber,
  optionalString,
  registryEvent,
  splitReference,
  string,
  strings,
  urlHost,
  type Adapter,
  type Normalized,
  type SourceRequest,
} from './adapter.ts';
import { SourceBodyError } from '../core/errors.ts';
import {
  severity,
  type BuildDetail,
  type BuildPhase,
  type ExpiryDetail,
  type MirrorDetail,
  type QuotaDetail,
  type VulnerabilityDetail,
} from '../core/kinds.ts';

type Declared =
  | { readonly kind: 'push' | 'vulnerability' | 'expiry' }
  | { readonly kind: 'build'; readonly phase: BuildPhase }
  | { readonly kind: 'quota'; readonly state: QuotaDetail['state'] }
  | { readonly kind: 'mirror'; readonly status: MirrorDetail['status'] };

/** Quay's event names, as a notification's URL declares them (`?event=`), and what they are. */
const DECLARED = {
  repo_push: { kind: 'push' },
  build_queued: { kind: 'build', phase: 'queued' },
  build_start: { kind: 'build', phase: 'started' },
  build_success: { kind: 'build', phase: 'succeeded' },
  build_failure: { kind: 'build', phase: 'failed' },
  build_cancelled: { kind: 'build', phase: 'cancelled' },
  vulnerability_found: { kind: 'vulnerability' },
  repo_image_expiry: { kind: 'expiry' },
  quota_warning: { kind: 'quota', state: 'warning' },
  quota_error: { kind: 'quota', state: 'exceeded' },
  repo_mirror_sync_started: { kind: 'mirror', status: 'started' },
  repo_mirror_sync_success: { kind: 'mirror', status: 'succeeded' },
  repo_mirror_sync_failed: { kind: 'mirror', status: 'failed' },
} as const satisfies Record<string, Declared>;
export const QUAY_EVENTS = Object.keys(DECLARED);

/**
 * What a body is: the declared event, else its shape: `updated_tags` a push, `build_id` a
 * build, a `vulnerability` object, `expiring_in` an expiry, `threshold_percent` a quota,
 * a `message` a mirror sync. Undefined: none of these.
 */
function kindOf(req: SourceRequest, body: Record<string, unknown>): Declared | undefined {
  if (req.declared !== undefined) {
    const declared = (DECLARED as Record<string, Declared | undefined>)[req.declared];
    if (declared === undefined) {
      throw new SourceBodyError(
        `?event=${req.declared}`,
        `Quay has no such event; one of ${QUAY_EVENTS.join(', ')}`,
      );
    }
    return declared;
  }
  if ('updated_tags' in body) return DECLARED.repo_push;
  if ('build_id' in body) return { kind: 'build', phase: buildPhase(body) };
  if (isObject(body['vulnerability'])) return DECLARED.vulnerability_found;
  if ('expiring_in' in body) return DECLARED.repo_image_expiry;
  if ('threshold_percent' in body || 'limit_bytes' in body) {
    const percent = optionalNumber(body['threshold_percent']) ?? 0;
    return percent >= 100 ? DECLARED.quota_error : DECLARED.quota_warning;
  }
  if ('message' in body && 'repository' in body) return { kind: 'mirror', status: 'unknown' };
  return undefined;
}

/**
 * A build's phase from its shape alone: an error is a failure, manifest digests a success,
 * `is_manual` (sent only when queued) a queued build. Started and cancelled look the same:
 * `unknown` unless the URL declares the event.
 */
function buildPhase(body: Record<string, unknown>): BuildPhase {
  if (optionalString(body['error_message']) !== undefined) return 'failed';
  if (Array.isArray(body['manifest_digests'])) return 'succeeded';
  if ('is_manual' in body) return 'queued';
  return 'unknown';
}

/** The one tag of a list as the target's tag; with several, the detail lists them. */
const oneTag = (tags: readonly string[]) => (tags.length === 1 ? tags[0] : undefined);

/**
 * Pushes: one per updated tag (Quay names no digest, time or user; the id is derived from
 * the repository and tags, so two identical pushes within the re-send window are one
 * event). Builds, vulnerabilities, expiry, quota and mirror syncs: one event each, with
 * its detail at `relay.<action>`. The timestamp is when the relay received it.
 */
export const quay: Adapter = (req): Normalized => {
  const body = object(req.body, 'body');
  const kind = kindOf(req, body);
  if (kind === undefined) return { kind: 'ignored', type: 'unknown' };
  const timestamp = new Date(req.receivedAt).toISOString();
  const dockerUrl = optionalString(body['docker_url']);
  const host = dockerUrl === undefined ? undefined : splitReference(dockerUrl).host;
  const homepage = optionalString(body['homepage']);
  /** The one event of a notification that is not a push. */
  const one = (
    fields: Omit<Parameters<typeof registryEvent>[0], 'timestamp' | 'host'> & {
      host?: string | undefined;
    },
  ): Normalized => ({
    kind: 'events',
    events: [registryEvent({ timestamp, host, ...fields })],
  });

  switch (kind.kind) {
    case 'push': {
      const repository = string(body['repository'], 'repository');
      // A list of tags; Quay.io's older payload has an object of tag to image id instead.
      const updated = body['updated_tags'];
      const tags = isObject(updated)
        ? Object.keys(updated)
        : array(updated, 'updated_tags').map((t, i) => string(t, `updated_tags[${String(i)}]`));
      if (tags.length === 0) throw new SourceBodyError('updated_tags', 'no tag was updated');
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
    }
    case 'build': {
      const repository = string(body['repository'], 'repository');
      const id = string(body['build_id'], 'build_id');
      const tags = strings(body['docker_tags']);
      const meta = isObject(body['trigger_metadata']) ? body['trigger_metadata'] : {};
      const commit = isObject(meta['commit_info']) ? meta['commit_info'] : {};
      const author = isObject(commit['author']) ? commit['author'] : {};
      const digests = strings(body['manifest_digests']).flatMap((ref) => {
        const digest = splitReference(ref).digest;
        return digest === undefined ? [] : [digest];
      });
      const detail: BuildDetail = defined({
        phase: kind.phase,
        id,
        name: optionalString(body['build_name']),
        tags,
        trigger: nonEmpty({
          kind: optionalString(body['trigger_kind']),
          id: optionalString(body['trigger_id']),
          ref: optionalString(meta['ref']),
          commit: optionalString(meta['commit']),
          url: optionalString(commit['url']),
          message: optionalString(commit['message']),
          author: optionalString(author['username']),
        }),
        manual: typeof body['is_manual'] === 'boolean' ? body['is_manual'] : undefined,
        user: optionalString(body['manual_user']),
        error: optionalString(body['error_message']),
        link: homepage,
        digests: digests.length === 0 ? undefined : digests,
      });
      return one({
        id: derivedId('quay', 'build', id, kind.phase),
        action: 'build',
        repository,
        tag: oneTag(tags),
        digest: digests.length === 1 ? digests[0] : undefined,
        detail,
      });
    }
    case 'vulnerability': {
      const repository = string(body['repository'], 'repository');
      const vuln = object(body['vulnerability'], 'vulnerability');
      const tags = strings(body['tags']);
      const priority = optionalString(vuln['priority']);
      const detail: VulnerabilityDetail = defined({
        id: string(vuln['id'], 'vulnerability.id'),
        severity: priority === undefined ? undefined : severity(priority),
        description: optionalString(vuln['description']),
        link: optionalString(vuln['link']),
        fixable: typeof vuln['has_fix'] === 'boolean' ? vuln['has_fix'] : undefined,
        tags,
      });
      return one({
        id: derivedId('quay', 'vulnerability', repository, detail.id, tags),
        action: 'vulnerability',
        repository,
        tag: oneTag(tags),
        detail,
      });
    }
    case 'expiry': {
      const repository = string(body['repository'], 'repository');
      const tags = strings(body['tags']);
      const text = optionalString(body['expiring_in']);
      const days = text === undefined ? undefined : /^\s*(\d+)/.exec(text)?.[1];
      const detail: ExpiryDetail = defined({
        tags,
        days: days === undefined ? undefined : Number(days),
        in: text,
      });
      return one({
        id: derivedId('quay', 'expiry', repository, tags, text),
        action: 'expiry',
        repository,
        tag: oneTag(tags),
        detail,
      });
    }
    case 'quota': {
      const namespace = string(body['namespace'], 'namespace');
      const detail: QuotaDetail = defined({
        state: kind.state,
        namespace,
        usedBytes: optionalNumber(body['usage_bytes']),
        limitBytes: optionalNumber(body['limit_bytes']),
        usedPercent: optionalNumber(body['usage_percent']),
        thresholdPercent: optionalNumber(body['threshold_percent']),
      });
      return one({
        id: derivedId(
          'quay',
          'quota',
          namespace,
          kind.state,
          body['threshold_percent'],
          body['usage_bytes'],
        ),
        action: 'quota',
        repository: optionalString(body['repository']),
        host: urlHost(homepage),
        detail,
      });
    }
    case 'mirror': {
      const repository = string(body['repository'], 'repository');
      const detail: MirrorDetail = defined({
        status: kind.status,
        message: optionalString(body['message']),
      });
      return one({
        id: derivedId('quay', 'mirror', repository, kind.status, body['message']),
        action: 'mirror',
        repository,
        detail,
      });
    }
  }
};
