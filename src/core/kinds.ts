// The kinds of event beyond the registry's own (push, pull, mount, delete, rename): what
// registries send about an image or a repository besides changing it. Each is one action,
// and carries one typed detail object at `relay.<action>` (the published schema describes
// every field). Endpoints receive them only when their filter names them.

/** The other kinds, each an action with its detail at `relay.<action>`. */
export const EVENT_KINDS = [
  'scan',
  'vulnerability',
  'build',
  'quota',
  'replication',
  'retention',
  'expiry',
  'repository',
  'lint',
  'mirror',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);

/** Whether `action` is one of the kinds beyond the registry's own actions. */
export const isEventKind = (action: string): action is EventKind => KINDS.has(action);

/** Counts by severity, lower-case, as every scanner's summary is read into. */
export interface SeverityCounts {
  readonly critical?: number;
  readonly high?: number;
  readonly medium?: number;
  readonly low?: number;
  readonly negligible?: number;
  readonly unknown?: number;
  readonly none?: number;
}

/** A scan of an artifact finished, failed or was stopped (Harbor, zot). */
export interface ScanDetail {
  readonly status: 'completed' | 'failed' | 'stopped';
  /** `vulnerability` or `sbom` (Harbor's scan type). */
  readonly type?: string;
  readonly scanner?: {
    readonly name?: string;
    readonly vendor?: string;
    readonly version?: string;
  };
  /** The highest severity found, lower-case. */
  readonly severity?: string;
  readonly counts?: SeverityCounts;
  readonly total?: number;
  readonly fixable?: number;
  readonly reportId?: string;
  /** Where the report is read (Harbor's API for the artifact's vulnerabilities). */
  readonly report?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly durationSeconds?: number;
  /** The SBOM's digest, for an SBOM scan. */
  readonly sbomDigest?: string;
}

/** One vulnerability found in an image (Quay). */
export interface VulnerabilityDetail {
  readonly id: string;
  readonly severity?: string;
  readonly description?: string;
  readonly link?: string;
  readonly fixable?: boolean;
  readonly tags: readonly string[];
}

export type BuildPhase = 'queued' | 'started' | 'succeeded' | 'failed' | 'cancelled' | 'unknown';

/** A build of an image changed phase (Quay's Dockerfile builds). */
export interface BuildDetail {
  readonly phase: BuildPhase;
  readonly id: string;
  readonly name?: string;
  readonly tags: readonly string[];
  readonly trigger?: {
    readonly kind?: string;
    readonly id?: string;
    readonly ref?: string;
    readonly commit?: string;
    readonly url?: string;
    readonly message?: string;
    readonly author?: string;
  };
  readonly manual?: boolean;
  readonly user?: string;
  readonly error?: string;
  readonly link?: string;
  readonly digests?: readonly string[];
}

/** A namespace or project's storage quota reached its warning level or its limit. */
export interface QuotaDetail {
  readonly state: 'warning' | 'exceeded';
  readonly namespace?: string;
  readonly usedBytes?: number;
  readonly limitBytes?: number;
  readonly usedPercent?: number;
  readonly thresholdPercent?: number;
  /** The sender's own words (Harbor says it in a sentence only). */
  readonly message?: string;
}

/** One artifact a replication or retention run acted on. */
export interface RunArtifact {
  readonly name: string;
  readonly type?: string;
  readonly status?: string;
  readonly references?: readonly string[];
  readonly reason?: string;
}

/** A job's status, normalised: `Success` is `succeeded`, `Error` is `failed`. */
export type JobStatus =
  'succeeded' | 'failed' | 'stopped' | 'running' | 'pending' | 'scheduled' | (string & {});

export interface ReplicationEndpoint {
  readonly registry?: string;
  readonly type?: string;
  readonly endpoint?: string;
  readonly namespace?: string;
}

/** A replication task finished or changed status (Harbor). */
export interface ReplicationDetail {
  readonly status: JobStatus;
  readonly policy?: {
    readonly description?: string;
    readonly creator?: string;
    readonly trigger?: string;
    readonly override?: boolean;
  };
  readonly executionId?: number;
  readonly taskId?: number;
  readonly startedAt?: string;
  readonly source?: ReplicationEndpoint;
  readonly destination?: ReplicationEndpoint;
  readonly succeeded: number;
  readonly failed: number;
  readonly artifacts: readonly RunArtifact[];
}

/** A tag retention run finished (Harbor). */
export interface RetentionDetail {
  readonly status: JobStatus;
  readonly project?: string;
  readonly policyId?: number;
  readonly total?: number;
  readonly retained?: number;
  readonly deleted: number;
  readonly artifacts: readonly RunArtifact[];
}

/** Tags due to expire (Quay's image expiry trigger). */
export interface ExpiryDetail {
  readonly tags: readonly string[];
  /** Days left, when the sender's text says a number. */
  readonly days?: number;
  /** The sender's words (`"1 days"`). */
  readonly in?: string;
}

/** A repository created, renamed or deleted (zot, GitLab). */
export interface RepositoryDetail {
  readonly change: 'created' | 'renamed' | 'deleted';
  /** GitLab's rename type: `name` or `namespace`. */
  readonly type?: string;
  readonly from?: string;
  readonly to?: string;
}

/** An image failed the registry's lint (zot). */
export interface LintDetail {
  readonly status: 'failed';
}

/** A repository mirror's sync started, succeeded or failed (Quay). */
export interface MirrorDetail {
  readonly status: 'started' | 'succeeded' | 'failed' | 'unknown';
  readonly message?: string;
}

/** The field of each kind's detail that says what happened: the CloudEvents type's last part. */
const STATE_FIELD: Readonly<Record<EventKind, string | undefined>> = {
  scan: 'status',
  vulnerability: undefined,
  build: 'phase',
  quota: 'state',
  replication: 'status',
  retention: 'status',
  expiry: undefined,
  repository: 'change',
  lint: 'status',
  mirror: 'status',
};
const FIXED_STATE: Readonly<Partial<Record<EventKind, string>>> = {
  vulnerability: 'found',
  expiry: 'upcoming',
};

/**
 * What happened, in one word: `completed` for a scan, `failed` for a build, `exceeded` for a
 * quota… (`found` for a vulnerability, `upcoming` for an expiry; `unknown` when the detail
 * does not say).
 */
export function stateOf(kind: EventKind, detail: Readonly<Record<string, unknown>>): string {
  const fixed = FIXED_STATE[kind];
  if (fixed !== undefined) return fixed;
  const field = STATE_FIELD[kind];
  const value = field === undefined ? undefined : detail[field];
  return typeof value === 'string' && value !== '' ? value : 'unknown';
}

/** A job status as the sender writes it (`Success`, `Error`, `SUCCESS`…), normalised. */
export function jobStatus(value: string): JobStatus {
  const v = value.trim().toLowerCase();
  if (v === 'success' || v === 'succeeded' || v === 'succeed') return 'succeeded';
  if (v === 'error' || v === 'failed' || v === 'failure' || v === 'fail') return 'failed';
  if (v === '') return 'unknown';
  return v.replace(/[^a-z0-9]+/g, '_');
}

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown', 'none'] as const;

/** A severity as a scanner writes it (`Critical`, `HIGH`, `Defcon1`…), lower-case. */
export function severity(value: string): string {
  const v = value.trim().toLowerCase();
  // Quay's (Clair's) highest priority.
  if (v === 'defcon1') return 'critical';
  return v;
}

/** Counts by severity, highest first, as `2 critical, 5 high` (zero counts left out). */
export function countsText(
  counts: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  if (counts === undefined) return undefined;
  const parts = SEVERITIES.flatMap((s) => {
    const n = counts[s];
    return typeof n === 'number' && n > 0 && s !== 'none' ? [`${String(n)} ${s}`] : [];
  });
  return parts.length === 0 ? undefined : parts.join(', ');
}
