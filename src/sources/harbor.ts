// Harbor: project webhooks, in its Default JSON and in its CloudEvents format.
// https://goharbor.io/docs/latest/working-with-projects/project-configuration/configure-webhooks/
// Payloads: src/pkg/notifier/model/event.go, src/controller/event/model/event.go and the
// handlers in src/controller/event/handler/webhook/ of https://github.com/goharbor/harbor
import {
  array,
  defined,
  derivedId,
  isObject,
  isoTime,
  manifestUrl,
  nonEmpty,
  object,
  optionalNumber,
  optionalString,
  registryEvent,
  splitReference,
  string,
  strings,
  type Adapter,
  type Normalized,
} from './adapter.ts';
import {
  jobStatus,
  severity,
  type QuotaDetail,
  type ReplicationDetail,
  type ReplicationEndpoint,
  type RetentionDetail,
  type RunArtifact,
  type ScanDetail,
  type SeverityCounts,
} from '../core/kinds.ts';

type Mapping =
  | { readonly action: 'push' | 'pull' | 'delete' }
  | { readonly action: 'scan'; readonly status: ScanDetail['status'] }
  | { readonly action: 'quota'; readonly state: QuotaDetail['state'] }
  | { readonly action: 'replication' }
  | { readonly action: 'retention' };

/** Harbor's event types (Default) and CloudEvents types, as the relay's actions. */
const TYPES: Readonly<Record<string, Mapping>> = {
  PUSH_ARTIFACT: { action: 'push' },
  PULL_ARTIFACT: { action: 'pull' },
  DELETE_ARTIFACT: { action: 'delete' },
  SCANNING_COMPLETED: { action: 'scan', status: 'completed' },
  SCANNING_FAILED: { action: 'scan', status: 'failed' },
  SCANNING_STOPPED: { action: 'scan', status: 'stopped' },
  QUOTA_EXCEED: { action: 'quota', state: 'exceeded' },
  QUOTA_WARNING: { action: 'quota', state: 'warning' },
  REPLICATION: { action: 'replication' },
  TAG_RETENTION: { action: 'retention' },
  'harbor.artifact.pushed': { action: 'push' },
  'harbor.artifact.pulled': { action: 'pull' },
  'harbor.artifact.deleted': { action: 'delete' },
  'harbor.scan.completed': { action: 'scan', status: 'completed' },
  'harbor.scan.failed': { action: 'scan', status: 'failed' },
  'harbor.scan.stopped': { action: 'scan', status: 'stopped' },
  'harbor.quota.exceeded': { action: 'quota', state: 'exceeded' },
  'harbor.quota.warned': { action: 'quota', state: 'warning' },
  'harbor.replication.status.changed': { action: 'replication' },
  'harbor.tag_retention.finished': { action: 'retention' },
};

/** The media type of Harbor's vulnerability summaries, preferred when a scan has several. */
const VULNERABILITY_REPORT = 'application/vnd.security.vulnerability.report; version=1.1';

const counts = (summary: unknown): SeverityCounts | undefined => {
  if (!isObject(summary)) return undefined;
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(summary)) {
    const count = optionalNumber(n);
    if (count !== undefined) out[severity(name)] = count;
  }
  return Object.keys(out).length === 0 ? undefined : out;
};

/** The scan summary of a resource: the vulnerability report's, else the first one, else the SBOM's. */
function scanSummary(resource: Record<string, unknown>): Record<string, unknown> | undefined {
  const overview = resource['scan_overview'];
  if (isObject(overview)) {
    const preferred = overview[VULNERABILITY_REPORT];
    if (isObject(preferred)) return preferred;
    const first = Object.values(overview).find(isObject);
    if (first !== undefined) return first;
  }
  const sbom = resource['sbom_overview'];
  return isObject(sbom) && Object.keys(sbom).length > 0 ? sbom : undefined;
}

/** Harbor's API for an artifact's vulnerabilities (a `/` in the repository name is `%252F`). */
function reportUrl(host: string | undefined, repository: string, digest: string | undefined) {
  if (host === undefined || digest === undefined) return undefined;
  const slash = repository.indexOf('/');
  if (slash < 0) return undefined;
  const project = encodeURIComponent(repository.slice(0, slash));
  const name = encodeURIComponent(encodeURIComponent(repository.slice(slash + 1)));
  return `https://${host}/api/v2.0/projects/${project}/repositories/${name}/artifacts/${digest}/additions/vulnerabilities`;
}

function scanDetail(
  status: ScanDetail['status'],
  data: Record<string, unknown>,
  resource: Record<string, unknown>,
  link: string | undefined,
): ScanDetail {
  const summary = scanSummary(resource);
  const scanType = isObject(data['scan']) ? optionalString(data['scan']['scan_type']) : undefined;
  const scanner = isObject(summary?.['scanner'])
    ? nonEmpty({
        name: optionalString(summary['scanner']['name']),
        vendor: optionalString(summary['scanner']['vendor']),
        version: optionalString(summary['scanner']['version']),
      })
    : undefined;
  const totals = isObject(summary?.['summary']) ? summary['summary'] : undefined;
  const sev = optionalString(summary?.['severity']);
  return defined({
    status,
    type: scanType,
    scanner,
    severity: sev === undefined ? undefined : severity(sev),
    counts: counts(totals?.['summary']),
    total: optionalNumber(totals?.['total']),
    fixable: optionalNumber(totals?.['fixable']),
    reportId: optionalString(summary?.['report_id']),
    report: scanType === undefined || scanType === 'vulnerability' ? link : undefined,
    startedAt: isoTime(summary?.['start_time']),
    finishedAt: isoTime(summary?.['end_time']),
    durationSeconds: optionalNumber(summary?.['duration']),
    sbomDigest: optionalString(summary?.['sbom_digest']),
  });
}

function runArtifacts(value: unknown, where: string): RunArtifact[] {
  if (value === undefined || value === null) return [];
  return array(value, where).flatMap((a) => {
    if (!isObject(a)) return [];
    const name = optionalString(a['name_tag']);
    if (name === undefined) return [];
    const references = strings(a['references']);
    const status = optionalString(a['status']);
    return [
      defined({
        name,
        type: optionalString(a['type']),
        status: status === undefined ? undefined : jobStatus(status),
        references: references.length === 0 ? undefined : references,
        reason: optionalString(a['fail_reason']),
      }),
    ];
  });
}

const endpointOf = (value: unknown): ReplicationEndpoint | undefined =>
  isObject(value)
    ? nonEmpty({
        registry: optionalString(value['registry_name']),
        type: optionalString(value['registry_type']),
        endpoint: optionalString(value['endpoint']),
        namespace: optionalString(value['namespace']),
      })
    : undefined;

/** The repository of a run's one artifact (`name:tag` within the local namespace), if one. */
function runTarget(artifacts: readonly RunArtifact[], namespace: string | undefined) {
  const [only] = artifacts;
  if (only === undefined || artifacts.length > 1) return { repository: undefined, tag: undefined };
  const ref = splitReference(only.name);
  const repository =
    namespace !== undefined && !ref.repository.startsWith(`${namespace}/`)
      ? `${namespace}/${ref.repository}`
      : ref.repository;
  return { repository, tag: ref.tag };
}

/**
 * Artifact events (push, pull, delete), scans and quota events: one event per resource.
 * Replication and retention runs: one event each. Harbor sends no media type or size; the
 * URL is made from the resource's host, repository and digest. Default format events carry
 * no id: it is derived from what makes the event.
 */
export const harbor: Adapter = (req): Normalized => {
  const body = object(req.body, 'body');
  const cloudEvent = body['specversion'] !== undefined;
  const type = string(body['type'], 'type');
  const mapping = TYPES[type];
  if (mapping === undefined) return { kind: 'ignored', type };
  const dataName = cloudEvent ? 'data' : 'event_data';
  const data = object(cloudEvent ? body['data'] : body['event_data'], dataName);
  const operator = optionalString(body['operator']);
  const timestamp =
    (cloudEvent ? isoTime(body['time']) : isoTime(optionalNumber(body['occur_at']))) ??
    new Date(req.receivedAt).toISOString();
  const ceId = cloudEvent ? string(body['id'], 'id') : undefined;
  const idOf = (i: number, count: number, ...parts: unknown[]) =>
    ceId !== undefined
      ? count === 1
        ? `harbor-${ceId}`
        : `harbor-${ceId}-${String(i)}`
      : derivedId('harbor', type, body['occur_at'], operator, ...parts);

  if (mapping.action === 'replication') {
    const rep = object(data['replication'], `${dataName}.replication`);
    const succeeded = runArtifacts(
      rep['successful_artifact'],
      `${dataName}.replication.successful_artifact`,
    );
    const failed = runArtifacts(rep['failed_artifact'], `${dataName}.replication.failed_artifact`);
    const source = endpointOf(rep['src_resource']);
    const destination = endpointOf(rep['dest_resource']);
    // The local side is Harbor itself: the one without a registry name.
    const local = destination?.registry === undefined ? destination : source;
    const { repository, tag } = runTarget([...succeeded, ...failed], local?.namespace);
    const policy = nonEmpty({
      description: optionalString(rep['description']),
      creator: optionalString(rep['policy_creator']),
      trigger: optionalString(rep['trigger_type']),
      override: typeof rep['override_mode'] === 'boolean' ? rep['override_mode'] : undefined,
    });
    const detail: ReplicationDetail = defined({
      status: jobStatus(string(rep['job_status'], `${dataName}.replication.job_status`)),
      policy,
      executionId: optionalNumber(rep['execution_id']),
      taskId: optionalNumber(rep['task_id']),
      startedAt: isoTime(optionalNumber(rep['execution_timestamp'])),
      source,
      destination,
      succeeded: succeeded.length,
      failed: failed.length,
      artifacts: [...succeeded, ...failed],
    });
    return {
      kind: 'events',
      events: [
        registryEvent({
          id: idOf(0, 1, rep['execution_id'], rep['task_id'], rep['job_status']),
          timestamp,
          action: 'replication',
          repository,
          tag,
          actor: operator,
          host: optionalString(rep['harbor_hostname']),
          detail,
        }),
      ],
    };
  }

  if (mapping.action === 'retention') {
    const ret = object(data['retention'], `${dataName}.retention`);
    const deleted = runArtifacts(ret['deleted_artifact'], `${dataName}.retention.deleted_artifact`);
    const detail: RetentionDetail = defined({
      status: jobStatus(optionalString(ret['result']) ?? ''),
      project: optionalString(ret['project_name']),
      policyId: optionalNumber(ret['retention_policy_id']),
      total: optionalNumber(ret['total']),
      retained: optionalNumber(ret['retained']),
      deleted: deleted.length,
      artifacts: deleted,
    });
    return {
      kind: 'events',
      events: [
        registryEvent({
          id: idOf(0, 1, ret['retention_policy_id'], ret['total'], ret['retained'], ret['result']),
          timestamp,
          action: 'retention',
          actor: operator,
          host: optionalString(ret['harbor_hostname']),
          detail,
        }),
      ],
    };
  }

  const repo = object(data['repository'], `${dataName}.repository`);
  const fullName =
    optionalString(repo['repo_full_name']) ??
    [optionalString(repo['namespace']), optionalString(repo['name'])].filter(Boolean).join('/');
  const repository = string(fullName === '' ? undefined : fullName, 'repository.repo_full_name');
  // A quota event names its resource only when one push crossed the line.
  const rawResources =
    mapping.action === 'quota' && data['resources'] === undefined
      ? []
      : array(data['resources'], `${dataName}.resources`);
  const resources = mapping.action === 'quota' && rawResources.length === 0 ? [{}] : rawResources;
  const custom = isObject(data['custom_attributes']) ? data['custom_attributes'] : {};
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
      let detail: object | undefined;
      if (mapping.action === 'scan') {
        detail = scanDetail(mapping.status, data, resource, reportUrl(host, repository, digest));
      } else if (mapping.action === 'quota') {
        const quota: QuotaDetail = defined({
          state: mapping.state,
          namespace: optionalString(repo['namespace']),
          message: optionalString(custom['Details']) ?? optionalString(custom['details']),
        });
        detail = quota;
      }
      return registryEvent({
        id: idOf(i, resources.length, repository, digest, rawTag),
        timestamp,
        action: mapping.action,
        repository,
        tag,
        digest,
        url: manifestUrl(host, repository, digest),
        actor: operator,
        host,
        detail,
      });
    }),
  };
};
