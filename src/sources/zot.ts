// zot: the events extension's CloudEvents (HTTP sink; binary or structured mode).
// https://zotregistry.dev/latest/articles/events/ and pkg/extensions/events/ (common.go,
// events.go, builder.go) of https://github.com/project-zot/zot
import {
  defined,
  isObject,
  isoTime,
  object,
  optionalNumber,
  optionalString,
  registryEvent,
  string,
  type Adapter,
} from './adapter.ts';
import {
  severity,
  type LintDetail,
  type RepositoryDetail,
  type ScanDetail,
} from '../core/kinds.ts';

const ACTIONS: Readonly<Record<string, string>> = {
  'zotregistry.image.updated': 'push',
  'zotregistry.image.deleted': 'delete',
  'zotregistry.image.scanned': 'scan',
  'zotregistry.image.lint_failed': 'lint',
  'zotregistry.repository.created': 'repository',
};

const header = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/** zot's ImageScanSummary (`criticalCount`…) as a scan detail. */
function scanDetail(summary: unknown): ScanDetail {
  if (!isObject(summary)) return { status: 'completed' };
  const count = (field: string) => optionalNumber(summary[field]);
  const counts = defined({
    critical: count('criticalCount'),
    high: count('highCount'),
    medium: count('mediumCount'),
    low: count('lowCount'),
    unknown: count('unknownCount'),
  });
  const max = optionalString(summary['maxSeverity']);
  return defined({
    status: 'completed' as const,
    type: 'vulnerability',
    severity: max === undefined ? undefined : severity(max),
    counts: Object.keys(counts).length === 0 ? undefined : counts,
    total: count('count'),
    fixable: count('fixableCount'),
  });
}

/**
 * An image updated (pushed) or deleted, scanned or failing lint; a repository created:
 * repository (`name`), reference (a tag, or a digest), digest and media type, the actor
 * when zot knows it. The id is the CloudEvent's.
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
  let detail: object | undefined;
  if (action === 'scan') detail = scanDetail(data['summary']);
  else if (action === 'lint') detail = { status: 'failed' } satisfies LintDetail;
  else if (action === 'repository') detail = { change: 'created' } satisfies RepositoryDetail;
  const actor = isObject(data['actor']) ? optionalString(data['actor']['name']) : undefined;
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
        actor,
        detail,
      }),
    ],
  };
};
