// Runs Debian's docker-registry (CNCF Distribution 2.8.2) as a real peer for end-to-end
// tests, and drives it through its HTTP API as a client pushing and pulling images would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';

/** The registry binary: $REGISTRY_BIN, else docker-registry on PATH; undefined if absent. */
export function registryBinary(): string | undefined {
  const candidate = process.env['REGISTRY_BIN'] ?? 'docker-registry';
  const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? candidate : undefined;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

const sha256 = (data: Buffer | string): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface RegistryEndpoint {
  name: string;
  url: string;
  headers?: Record<string, string[]>;
  timeout?: string;
  threshold?: number;
  backoff?: string;
  ignore?: { mediatypes?: string[]; actions?: string[] };
}

/** How the registry signs clients in: htpasswd (Basic) or a token server's realm. */
export type RegistryAuthConfig =
  | { readonly htpasswd: { readonly username: string; readonly password: string } }
  | {
      readonly token: {
        readonly realm: string;
        readonly service: string;
        readonly issuer: string;
        readonly certFile: string;
      };
    };

export async function startRegistry(
  bin: string,
  endpoints: RegistryEndpoint[],
  opts: {
    auth?: RegistryAuthConfig;
    /** Restart on the same data and port as a registry stopped before. */
    dir?: string;
    port?: number;
  } = {},
) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'relay-e2e-registry-'));
  const port = opts.port ?? (await freePort());
  let auth: Record<string, unknown> | undefined;
  if (opts.auth !== undefined && 'htpasswd' in opts.auth) {
    const { username, password } = opts.auth.htpasswd;
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `${username}:${bcrypt.hashSync(password, 5)}\n`);
    auth = { htpasswd: { realm: 'relay-test', path: file } };
  } else if (opts.auth !== undefined) {
    const t = opts.auth.token;
    auth = {
      token: { realm: t.realm, service: t.service, issuer: t.issuer, rootcertbundle: t.certFile },
    };
  }
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}` },
      ...(auth === undefined ? {} : { auth }),
      notifications: { endpoints },
    }),
  );
  const child: ChildProcess = spawn(bin, ['serve', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`${base}/v2/`).then(
      (r) => r.ok || r.status === 401,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || i > 200) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  async function call(
    method: string,
    path: string,
    init: { body?: Buffer | string; headers?: Record<string, string> } = {},
  ) {
    const res = await fetch(path.startsWith('http') ? path : `${base}${path}`, {
      method,
      ...(init.body === undefined ? {} : { body: init.body }),
      headers: init.headers ?? {},
      redirect: 'manual',
    });
    await res.arrayBuffer();
    return res;
  }

  function expect(res: Response, status: number, what: string): void {
    if (res.status !== status)
      throw new Error(`${what}: registry answered ${res.status}, expected ${status}`);
  }

  const api = {
    base,
    dir,
    port,
    pid: child.pid ?? 0,
    stderr: () => stderr,
    async pushBlob(repo: string, data: Buffer | string): Promise<string> {
      const digest = sha256(data);
      const start = await call('POST', `/v2/${repo}/blobs/uploads/`);
      expect(start, 202, 'start upload');
      const location = start.headers.get('location') ?? '';
      const url = new URL(location, base);
      url.searchParams.set('digest', digest);
      expect(
        await call('PUT', url.toString(), {
          body: data,
          headers: { 'content-type': 'application/octet-stream' },
        }),
        201,
        'finish upload',
      );
      return digest;
    },
    /** Pushes config + one layer + a schema2 manifest under `tag`; returns the digests. */
    async pushImage(repo: string, tag: string, seed: string) {
      const config = JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
        seed,
      });
      const layer = Buffer.from(`layer-${seed}-${'x'.repeat(64)}`);
      const configDigest = await api.pushBlob(repo, config);
      const layerDigest = await api.pushBlob(repo, layer);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          size: Buffer.byteLength(config),
          digest: configDigest,
        },
        layers: [
          {
            mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
            size: layer.length,
            digest: layerDigest,
          },
        ],
      });
      expect(
        await call('PUT', `/v2/${repo}/manifests/${tag}`, {
          body: manifest,
          headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' },
        }),
        201,
        'put manifest',
      );
      return { manifestDigest: sha256(manifest), configDigest, layerDigest };
    },
    async pullManifest(repo: string, ref: string, method: 'GET' | 'HEAD' = 'GET'): Promise<void> {
      expect(
        await call(method, `/v2/${repo}/manifests/${ref}`, {
          headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
        }),
        200,
        'pull manifest',
      );
    },
    async pullBlob(repo: string, digest: string): Promise<void> {
      expect(await call('GET', `/v2/${repo}/blobs/${digest}`), 200, 'pull blob');
    },
    async mount(repo: string, from: string, digest: string): Promise<void> {
      expect(
        await call('POST', `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`),
        201,
        'mount',
      );
    },
    async deleteManifest(repo: string, digest: string): Promise<void> {
      expect(await call('DELETE', `/v2/${repo}/manifests/${digest}`), 202, 'delete manifest');
    },
    async deleteBlob(repo: string, digest: string): Promise<void> {
      expect(await call('DELETE', `/v2/${repo}/blobs/${digest}`), 202, 'delete blob');
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    },
  };
  return api;
}
