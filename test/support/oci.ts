// OCI image layouts written by hand (an image with labels, a two-platform index, a
// cosign-style signature) and pushed to a real registry with skopeo, as a user pushes images.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const sha256 = (data: Buffer | string): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** skopeo on PATH, or undefined. */
export function skopeoBinary(): string | undefined {
  const probe = spawnSync('skopeo', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? 'skopeo' : undefined;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

/** One OCI image layout directory: blobs written as they are made, index.json at the end. */
export class Layout {
  readonly dir: string;
  readonly #refs: Descriptor[] = [];

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  blob(mediaType: string, data: Buffer | string): Descriptor {
    const digest = sha256(data);
    writeFileSync(join(this.dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { mediaType, digest, size: Buffer.byteLength(data) };
  }

  /** An image: its config (platform, labels, created) and one gzip layer. */
  image(opts: {
    os: string;
    architecture: string;
    variant?: string;
    labels?: Record<string, string>;
    seed: string;
    annotations?: Record<string, string>;
  }): Descriptor & { layers: number; configSize: number } {
    const config = this.blob(
      'application/vnd.oci.image.config.v1+json',
      JSON.stringify({
        created: '2026-11-30T12:00:00Z',
        os: opts.os,
        architecture: opts.architecture,
        ...(opts.variant === undefined ? {} : { variant: opts.variant }),
        config: { Labels: opts.labels ?? {} },
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    const layer = this.blob(
      'application/vnd.oci.image.layer.v1.tar+gzip',
      gzipSync(`layer ${opts.seed} ${'x'.repeat(200)}`),
    );
    const manifest = this.blob(
      OCI_MANIFEST,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config,
        layers: [layer],
        ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }),
      }),
    );
    return {
      ...manifest,
      platform: {
        os: opts.os,
        architecture: opts.architecture,
        ...(opts.variant === undefined ? {} : { variant: opts.variant }),
      },
      layers: layer.size,
      configSize: config.size,
    };
  }

  index(children: Descriptor[]): Descriptor {
    return this.blob(
      OCI_INDEX,
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children }),
    );
  }

  /** A cosign-style signature of `subject` (legacy tag schema: pushed as `sha256-<hex>.sig`). */
  signature(subject: string): Descriptor {
    const config = this.blob(
      'application/vnd.oci.image.config.v1+json',
      JSON.stringify({
        architecture: '',
        os: '',
        config: {},
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    const payload = this.blob(
      'application/vnd.dev.cosign.simplesigning.v1+json',
      JSON.stringify({
        critical: {
          image: { 'docker-manifest-digest': subject },
          type: 'cosign container image signature',
        },
      }),
    );
    return this.blob(
      OCI_MANIFEST,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config,
        layers: [{ ...payload, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
      }),
    );
  }

  /** Names `d` as `ref` in index.json (skopeo's `oci:dir:ref`). */
  ref(d: Descriptor, ref: string): void {
    this.#refs.push({
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      annotations: { 'org.opencontainers.image.ref.name': ref },
    });
    writeFileSync(
      join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: this.#refs }),
    );
  }
}

/**
 * `skopeo copy --all --preserve-digests oci:<dir>:<ref> docker://<dest>`, over plain HTTP,
 * with `creds` (user:password) when given: skopeo signs in as any client does (Basic, or
 * the token flow).
 */
export async function skopeoPush(
  dir: string,
  ref: string,
  dest: string,
  creds?: string,
): Promise<void> {
  const args = [
    '--insecure-policy',
    'copy',
    '--all',
    '--preserve-digests',
    '--dest-tls-verify=false',
    ...(creds === undefined ? ['--dest-no-creds'] : ['--dest-creds', creds]),
    `oci:${dir}:${ref}`,
    `docker://${dest}`,
  ];
  const child = spawn('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`skopeo copy to ${dest} failed (${String(code)}): ${stderr}`);
}
