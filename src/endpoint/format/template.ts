import type { RelayEvent } from '../../core/event.ts';
import type { Payload } from '../delivery.ts';
import { registryEvent, viewOf, type EventView, type Format } from './format.ts';
import { TemplateError } from '../../core/errors.ts';

/** Every fact enrichment can add (`relay.image`), for checking `{{ image.… }}` references. */
const SAMPLE_FACTS = {
  registry: 'prod',
  digest: 'sha256:f151b1c4e9a1c83cfbe4891d2a3112a60dbc0efd54e2ce2a44d4c23ee1b12ded',
  mediaType: 'application/vnd.oci.image.index.v1+json',
  artifactType: 'application/vnd.example+type',
  size: 1024,
  platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8', digest: 'sha256:e7ed' }],
  created: '2026-11-23T01:02:48Z',
  labels: {},
  annotations: {},
  subject: 'sha256:e7ed',
  refers: 'signature',
  signed: true,
  signatures: [{ format: 'cosign', digest: 'sha256:e7ed', via: 'tag' }],
  sboms: [],
  attestations: [],
  resolved: true,
  unavailable: 'timeout',
} as const;

/** Every field of every kind's detail (`relay.<action>`), for checking references to them. */
export const SAMPLE_DETAILS = {
  scan: {
    status: 'completed',
    type: 'vulnerability',
    scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.50.1' },
    severity: 'critical',
    counts: { critical: 1, high: 2, medium: 3, low: 4, negligible: 0, unknown: 0, none: 0 },
    total: 10,
    fixable: 6,
    reportId: '1f5e7c5a-8b8e-4f7e-9d43-0c1f0b7f0a11',
    report:
      'https://harbor.example.com/api/v2.0/projects/team/repositories/app/artifacts/sha256:f151/additions/vulnerabilities',
    startedAt: '2026-11-23T01:02:48Z',
    finishedAt: '2026-11-23T01:03:10Z',
    durationSeconds: 22,
    sbomDigest: 'sha256:e7ed',
  },
  vulnerability: {
    id: 'CVE-2026-0001',
    severity: 'critical',
    description: 'A bad one',
    link: 'https://security-tracker.example.com/CVE-2026-0001',
    fixable: true,
    tags: ['v1.2.0'],
  },
  build: {
    phase: 'failed',
    id: '5346a21d-3434-4764-85be-5be1296f293c',
    name: '6ae9a86',
    tags: ['v1.2.0'],
    trigger: {
      kind: 'github',
      id: '38b6e180',
      ref: 'refs/heads/main',
      commit: '6ae9a86930fc73dd07b02e4c5bf63ee60be180ad',
      url: 'https://github.com/team/app/commit/6ae9a86',
      message: 'a change',
      author: 'alice',
    },
    manual: false,
    user: 'alice',
    error: 'Could not find or parse Dockerfile',
    link: 'https://quay.example.com/repository/team/app/build/5346a21d',
    digests: ['sha256:f151'],
  },
  quota: {
    state: 'exceeded',
    namespace: 'team',
    usedBytes: 1127428915,
    limitBytes: 1073741824,
    usedPercent: 105,
    thresholdPercent: 100,
    message: 'quota exceeded',
  },
  replication: {
    status: 'succeeded',
    policy: { description: 'to dr', creator: 'admin', trigger: 'MANUAL', override: true },
    executionId: 1,
    taskId: 1,
    startedAt: '2026-11-23T01:02:48Z',
    source: {
      registry: 'dr',
      type: 'harbor',
      endpoint: 'https://dr.example.com',
      namespace: 'team',
    },
    destination: {
      registry: 'dr',
      type: 'harbor',
      endpoint: 'https://dr.example.com',
      namespace: 'team',
    },
    succeeded: 1,
    failed: 0,
    artifacts: [
      {
        name: 'app:v1.2.0',
        type: 'image',
        status: 'succeeded',
        references: ['v1.2.0'],
        reason: '',
      },
    ],
  },
  retention: {
    status: 'succeeded',
    project: 'team',
    policyId: 1,
    total: 3,
    retained: 2,
    deleted: 1,
    artifacts: [{ name: 'team/app:old', type: 'image', status: 'succeeded' }],
  },
  expiry: { tags: ['v1.2.0'], days: 1, in: '1 days' },
  repository: { change: 'renamed', type: 'name', from: 'team/old', to: 'team/app' },
  lint: { status: 'failed' },
  mirror: { status: 'failed', message: 'team/app' },
} as const;

/**
 * An event with every field a registry (2.8 or 3.x) writes, used to check a template's
 * references at startup: a path that is not here is a typo, not an optional field.
 */
export const SAMPLE_EVENT = {
  id: 'e9a15135-007a-4d71-9096-55cf338adda5',
  timestamp: '2026-11-23T01:02:48.260076203Z',
  action: 'push',
  target: {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.example+type',
    size: 394,
    digest: 'sha256:f151b1c4e9a1c83cfbe4891d2a3112a60dbc0efd54e2ce2a44d4c23ee1b12ded',
    length: 394,
    repository: 'team/app',
    fromRepository: 'team/base',
    url: 'https://registry.example.com/v2/team/app/manifests/sha256:f151b1c4e9a1c83cfbe4891d2a3112a60dbc0efd54e2ce2a44d4c23ee1b12ded',
    tag: 'v1.2.0',
    references: [{ mediaType: 'application/octet-stream', size: 70, digest: 'sha256:e7ed' }],
    annotations: {},
    urls: [],
    platform: {},
    data: '',
  },
  request: {
    id: '33b5eb8d-8351-4409-806d-031e7cb5af1d',
    addr: '10.0.0.7:44066',
    host: 'registry.example.com',
    method: 'PUT',
    useragent: 'docker/27.0',
  },
  actor: { name: 'alice' },
  source: { addr: 'registry-0:5000', instanceID: '7a37e3a7-a3ad-40d4-89d6-9ee35c020320' },
  relay: {
    source: 'quay-prod',
    type: 'quay',
    original: {},
    image: SAMPLE_FACTS,
    ...SAMPLE_DETAILS,
  },
} as const;

/** What a template may reference besides `event.…`: the derived names of EventView. */
const DERIVED = new Set<string>([
  'id',
  'action',
  'actioned',
  'timestamp',
  'kind',
  'repository',
  'namespace',
  'name',
  'tag',
  'digest',
  'mediaType',
  'subject',
  'actor',
  'host',
  'platforms',
  'signed',
  'state',
]);

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}]*?)\s*\}\}$/;
const PATH = /^[A-Za-z_$][\w$-]*(?:\.[\w$-]+)*$/;

function lookup(root: unknown, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const asText = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
};

type Render = (view: EventView) => unknown;

function checkPath(ref: string, where: string, sample: EventView): string[] {
  if (!PATH.test(ref)) {
    throw new TemplateError(
      where,
      `{{ ${ref} }} is not a field path such as {{ event.target.tag }}`,
    );
  }
  const path = ref.split('.');
  const [root] = path;
  if (root === 'detail') {
    // A detail's fields depend on the kind: a path any kind's detail has is one.
    const rest = path.slice(1);
    const known =
      rest.length === 0 || Object.values(SAMPLE_DETAILS).some((d) => lookup(d, rest) !== undefined);
    if (!known) {
      throw new TemplateError(
        where,
        `{{ ${ref} }}: no kind's detail has this field (see the event reference in the docs)`,
      );
    }
  } else if (root === 'event' || root === 'image') {
    if (lookup(sample, path) === undefined) {
      throw new TemplateError(
        where,
        root === 'event'
          ? `{{ ${ref} }}: a registry event has no such field`
          : `{{ ${ref} }}: no such fact (see relay.image in the docs)`,
      );
    }
  } else if (!DERIVED.has(root ?? '') || path.length > 1) {
    throw new TemplateError(
      where,
      `{{ ${ref} }}: unknown name; use event.<field>, image.<fact>, detail.<field> or one of ${[...DERIVED].join(', ')}`,
    );
  }
  return path;
}

function compileNode(node: unknown, where: string, sample: EventView): Render {
  if (typeof node === 'string') {
    const whole = WHOLE.exec(node);
    if (whole) {
      // A string that is only a reference takes the field's own JSON type (a size stays a number).
      const path = checkPath(whole[1] ?? '', where, sample);
      return (view) => lookup(view, path) ?? null;
    }
    const pieces: (string | readonly string[])[] = [];
    let last = 0;
    for (const m of node.matchAll(PLACEHOLDER)) {
      pieces.push(node.slice(last, m.index));
      pieces.push(checkPath(m[1] ?? '', where, sample));
      last = m.index + m[0].length;
    }
    if (pieces.length === 0) return () => node;
    pieces.push(node.slice(last));
    return (view) =>
      pieces.map((p) => (typeof p === 'string' ? p : asText(lookup(view, p)))).join('');
  }
  if (Array.isArray(node)) {
    const items = node.map((v, i) => compileNode(v, `${where}[${i}]`, sample));
    return (view) => items.map((r) => r(view));
  }
  if (node !== null && typeof node === 'object') {
    const fields = Object.entries(node).map(
      ([k, v]) => [k, compileNode(v, `${where}.${k}`, sample)] as const,
    );
    return (view) => Object.fromEntries(fields.map(([k, r]) => [k, r(view)]));
  }
  return () => node;
}

/**
 * A JSON body written by the user (like Quay's notification templates) whose strings may
 * contain `{{ path }}` references: `event.<field>` into the registry event, or one of the
 * derived names (`repository`, `tag`, `subject`, `actor`, `host`…). A string that is only
 * a reference becomes the field's value with its JSON type; inside text it is
 * interpolated. Every reference is checked against SAMPLE_EVENT when compiled: a field no
 * registry event has throws TemplateError. A field this event lacks renders as null, or
 * as nothing inside text.
 */
export function templateFormat(body: unknown, contentType: string): Format {
  const render = compileNode(body, 'body', viewOf(SAMPLE_EVENT));
  const headers = ['content-type', contentType];
  return {
    render(events: readonly RelayEvent[]): Payload {
      const [event] = events;
      if (event === undefined || events.length > 1) {
        throw new Error('a template renders one event per request');
      }
      return { body: JSON.stringify(render(viewOf(registryEvent(event)))), headers };
    },
  };
}
