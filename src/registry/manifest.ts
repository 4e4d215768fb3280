import { createHash } from 'node:crypto';
import type { ImageFacts, Platform, Referrer, ReferrerKind } from '../core/image.ts';
import { RegistryError } from '../core/errors.ts';
import { header, type RegistryAnswer, type RegistryClient } from './client.ts';

// What a manifest says, read through the OCI distribution API (and Docker's v2 schema 2).

/** Every manifest and index type, as a `HEAD` or `GET` must list them (2.8 answers 404 to an OCI manifest otherwise). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5',
].join(', ');

const IMAGE_CONFIGS = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

/** A repository name as the distribution spec allows it: nothing else reaches a URL. */
const REPOSITORY =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

export const isRepository = (s: string): boolean => s.length <= 255 && REPOSITORY.test(s);
export const isTag = (s: string): boolean => TAG.test(s);
export const isDigest = (s: string): boolean => DIGEST.test(s);

/** Children of an index whose own facts are read for the index's size, at most. */
const CHILDREN_READ = 32;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
const strings = (v: unknown): Record<string, string> | undefined => {
  const o = obj(v);
  if (o === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) if (typeof x === 'string') out[k] = x;
  return Object.keys(out).length === 0 ? undefined : out;
};

const scopeOf = (repository: string): string => `repository:${repository}:pull`;

function failIfNot200(client: RegistryClient, answer: RegistryAnswer, what: string): void {
  if (answer.status === 200) return;
  const name = client.plan.name;
  if (answer.status === 404) throw new RegistryError(name, 'not_found', `${what}: not found`);
  if (answer.status === 403)
    throw new RegistryError(name, 'denied', `${what}: access denied (403)`);
  if (answer.status === 429 || answer.status >= 500) {
    throw new RegistryError(name, 'server_error', `${what}: answered ${String(answer.status)}`);
  }
  throw new RegistryError(name, 'bad_answer', `${what}: answered ${String(answer.status)}`);
}

function parseJson(client: RegistryClient, body: Buffer, what: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError(client.plan.name, 'bad_answer', `${what}: not JSON`);
  }
  const o = obj(parsed);
  if (o === undefined)
    throw new RegistryError(client.plan.name, 'bad_answer', `${what}: not a JSON object`);
  return o;
}

/** What a tag points at now: a manifest `HEAD`. */
export async function resolveTag(
  client: RegistryClient,
  repository: string,
  tag: string,
): Promise<{ digest: string; mediaType: string | undefined; size: number | undefined }> {
  const what = `${repository}:${tag}`;
  const answer = await client.call('resolve', 'HEAD', `${repository}/manifests/${tag}`, {
    scope: scopeOf(repository),
    accept: MANIFEST_ACCEPT,
  });
  failIfNot200(client, answer, what);
  const digest = header(answer, 'docker-content-digest');
  if (digest === undefined || !isDigest(digest)) {
    throw new RegistryError(
      client.plan.name,
      'bad_answer',
      `${what}: the answer names no Docker-Content-Digest`,
    );
  }
  const length = Number(header(answer, 'content-length'));
  return {
    digest,
    mediaType: header(answer, 'content-type')?.split(';')[0],
    size: Number.isFinite(length) && length > 0 ? length : undefined,
  };
}

async function readManifest(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<{ manifest: Json; mediaType: string | undefined }> {
  const what = `${repository}@${digest}`;
  const answer = await client.call('manifest', 'GET', `${repository}/manifests/${digest}`, {
    scope: scopeOf(repository),
    accept: MANIFEST_ACCEPT,
  });
  failIfNot200(client, answer, what);
  // Content-addressed: what came back must be what was asked for.
  if (digest.startsWith('sha256:')) {
    const actual = `sha256:${createHash('sha256').update(answer.body).digest('hex')}`;
    if (actual !== digest) {
      throw new RegistryError(
        client.plan.name,
        'bad_answer',
        `${what}: the manifest's digest is ${actual}`,
      );
    }
  }
  const manifest = parseJson(client, answer.body, what);
  return {
    manifest,
    mediaType: str(manifest['mediaType']) ?? header(answer, 'content-type')?.split(';')[0],
  };
}

async function readConfig(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<Json> {
  const answer = await client.call('blob', 'GET', `${repository}/blobs/${digest}`, {
    scope: scopeOf(repository),
  });
  failIfNot200(client, answer, `${repository} config ${digest}`);
  return parseJson(client, answer.body, `${repository} config ${digest}`);
}

/** The facts of a manifest's content, which never change for its digest. */
export type ContentFacts = Omit<
  ImageFacts,
  'registry' | 'signed' | 'signatures' | 'sboms' | 'attestations' | 'resolved' | 'unavailable'
>;

/**
 * Reads a manifest and what it points at: for an image its config blob (platform,
 * `created`, labels) and its size (config + layers); for an index each child's platform,
 * and its size as the sum of its images' (each child read through `child`, so a child's
 * facts are read once however many indexes name it).
 */
export async function readContent(
  client: RegistryClient,
  repository: string,
  digest: string,
  child: (digest: string) => Promise<ContentFacts>,
): Promise<ContentFacts> {
  const { manifest, mediaType } = await readManifest(client, repository, digest);
  const annotations = strings(manifest['annotations']);
  const subject = str(obj(manifest['subject'])?.['digest']);
  const base = { digest, mediaType, annotations, subject };
  const children = manifest['manifests'];
  if (Array.isArray(children)) {
    const platforms: Platform[] = [];
    const images: string[] = [];
    for (const c of children) {
      const d = obj(c);
      const childDigest = str(d?.['digest']);
      if (d === undefined || childDigest === undefined) continue;
      const p = obj(d['platform']);
      const os = str(p?.['os']);
      const architecture = str(p?.['architecture']);
      // BuildKit's attestation manifests are listed as unknown/unknown: not a platform.
      if (os === undefined || architecture === undefined || os === 'unknown') continue;
      const variant = str(p?.['variant']);
      platforms.push({
        os,
        architecture,
        ...(variant === undefined ? {} : { variant }),
        digest: childDigest,
      });
      images.push(childDigest);
    }
    let size: number | undefined = 0;
    for (const d of images.slice(0, CHILDREN_READ)) {
      const facts = await child(d);
      size = facts.size === undefined || size === undefined ? undefined : size + facts.size;
    }
    if (images.length > CHILDREN_READ) size = undefined;
    return { ...base, artifactType: str(manifest['artifactType']), size, platforms };
  }
  const config = obj(manifest['config']);
  const configType = str(config?.['mediaType']);
  const configDigest = str(config?.['digest']);
  let size = num(config?.['size']);
  const layers = Array.isArray(manifest['layers']) ? manifest['layers'] : [];
  for (const l of layers) {
    const s = num(obj(l)?.['size']);
    size = s === undefined || size === undefined ? undefined : size + s;
  }
  const artifactType =
    str(manifest['artifactType']) ??
    (configType !== undefined &&
    !IMAGE_CONFIGS.has(configType) &&
    configType !== 'application/vnd.oci.empty.v1+json'
      ? configType
      : undefined);
  if (configType === undefined || !IMAGE_CONFIGS.has(configType) || configDigest === undefined) {
    return { ...base, artifactType, size };
  }
  const image = await readConfig(client, repository, configDigest);
  const os = str(image['os']);
  const architecture = str(image['architecture']);
  const variant = str(image['variant']);
  const platforms =
    os === undefined || architecture === undefined
      ? undefined
      : [{ os, architecture, ...(variant === undefined ? {} : { variant }) }];
  return {
    ...base,
    artifactType,
    size,
    platforms,
    created: str(image['created']),
    labels: strings(obj(image['config'])?.['Labels']),
  };
}

/** What kind of referrer an artifact type is, and its format. */
export function classify(artifactType: string | undefined): { kind: ReferrerKind; format: string } {
  const t = artifactType ?? '';
  if (t.startsWith('application/vnd.dev.cosign.artifact.sig'))
    return { kind: 'signature', format: 'cosign' };
  if (t === 'application/vnd.cncf.notary.signature')
    return { kind: 'signature', format: 'notation' };
  if (t.startsWith('application/vnd.dev.sigstore.bundle'))
    return { kind: 'signature', format: 'sigstore' };
  if (t.includes('spdx')) return { kind: 'sbom', format: 'spdx' };
  if (t.includes('cyclonedx')) return { kind: 'sbom', format: 'cyclonedx' };
  if (t.includes('in-toto') || t.startsWith('application/vnd.dsse.envelope')) {
    return { kind: 'attestation', format: 'in-toto' };
  }
  return { kind: 'other', format: t === '' ? 'unknown' : t };
}

/** cosign's tags for what refers to `sha256:<hex>`: `sha256-<hex>.sig`, `.att`, `.sbom`. */
const COSIGN_TAGS: readonly { suffix: string; kind: ReferrerKind }[] = [
  { suffix: 'sig', kind: 'signature' },
  { suffix: 'att', kind: 'attestation' },
  { suffix: 'sbom', kind: 'sbom' },
];

/** A tag of the referrers tag schema or cosign's: the digest it refers to, and as what. */
export function referrerTag(tag: string): { subject: string; kind: ReferrerKind } | undefined {
  const m = /^(sha256|sha512)-([a-f0-9]{64,128})(?:\.(sig|att|sbom))?$/.exec(tag);
  if (!m) return undefined;
  const kind = COSIGN_TAGS.find((c) => c.suffix === m[3])?.kind ?? 'other';
  return { subject: `${m[1] ?? 'sha256'}:${m[2] ?? ''}`, kind };
}

export interface Referrers {
  readonly signatures: Referrer[];
  readonly sboms: Referrer[];
  readonly attestations: Referrer[];
}

function sort(into: Referrers, r: Referrer, kind: ReferrerKind): void {
  if (kind === 'signature') into.signatures.push(r);
  else if (kind === 'sbom') into.sboms.push(r);
  else if (kind === 'attestation') into.attestations.push(r);
}

function fromIndex(index: Json, via: Referrer['via'], into: Referrers): void {
  const list = Array.isArray(index['manifests']) ? index['manifests'] : [];
  for (const m of list) {
    const d = obj(m);
    const digest = str(d?.['digest']);
    if (d === undefined || digest === undefined) continue;
    const artifactType = str(d['artifactType']);
    const { kind, format } = classify(artifactType);
    sort(
      into,
      { format, digest, ...(artifactType === undefined ? {} : { artifactType }), via },
      kind,
    );
  }
}

/**
 * What refers to `digest`: the OCI referrers API where the registry has it; where it
 * answers 404 (Distribution 2.8), the referrers tag schema (an index tagged
 * `sha256-<hex>`) and cosign's `.sig`, `.att` and `.sbom` tags.
 */
export async function readReferrers(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<Referrers> {
  const into: Referrers = { signatures: [], sboms: [], attestations: [] };
  const scope = scopeOf(repository);
  const api = await client.call('referrers', 'GET', `${repository}/referrers/${digest}`, {
    scope,
    accept: 'application/vnd.oci.image.index.v1+json',
  });
  const type = header(api, 'content-type') ?? '';
  if (api.status === 200 && type.includes('json')) {
    fromIndex(
      parseJson(client, api.body, `${repository} referrers of ${digest}`),
      'referrers-api',
      into,
    );
    return into;
  }
  if (api.status !== 404) failIfNot200(client, api, `${repository} referrers of ${digest}`);
  const tagBase = digest.replace(':', '-');
  const schema = await client.call('referrers', 'GET', `${repository}/manifests/${tagBase}`, {
    scope,
    accept: MANIFEST_ACCEPT,
  });
  if (schema.status === 200)
    fromIndex(parseJson(client, schema.body, `${repository}:${tagBase}`), 'tag', into);
  else if (schema.status !== 404) failIfNot200(client, schema, `${repository}:${tagBase}`);
  for (const { suffix, kind } of COSIGN_TAGS) {
    const tag = `${tagBase}.${suffix}`;
    const answer = await client.call('referrers', 'HEAD', `${repository}/manifests/${tag}`, {
      scope,
      accept: MANIFEST_ACCEPT,
    });
    if (answer.status === 404) continue;
    failIfNot200(client, answer, `${repository}:${tag}`);
    const found = header(answer, 'docker-content-digest');
    if (found === undefined) continue;
    sort(into, { format: 'cosign', digest: found, via: 'tag' }, kind);
  }
  return into;
}
