// A small registry token server (the Docker token spec) for Distribution's `auth: token`:
// checks Basic credentials, grants the scopes asked for, and signs RS256 JWTs with a
// self-signed certificate the registry trusts (`rootcertbundle`), named in the `x5c` header.
import { execFileSync } from 'node:child_process';
import { createSign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** The certificate bundle the registry's `rootcertbundle` names. */
  readonly certFile: string;
  /** Token requests by the user who asked, with their scopes. */
  readonly requests: { user: string; scopes: string[] }[];
  close(): Promise<void>;
}

export async function startTokenServer(
  dir: string,
  users: Record<string, string>,
): Promise<TokenServer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=relay-test-token-issuer',
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile);
  const x5c = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
  const service = 'relay-test-registry';
  const issuer = 'relay-test-issuer';
  const requests: TokenServer['requests'] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization ?? '';
    let user = '';
    if (auth.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (u === undefined || users[u] !== p) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"details":"bad credentials"}');
        requests.push({ user: `refused:${u ?? ''}`, scopes: url.searchParams.getAll('scope') });
        return;
      }
      user = u;
    }
    const scopes = url.searchParams.getAll('scope');
    requests.push({ user, scopes });
    const access = scopes.flatMap((scope) => {
      const parts = scope.split(':');
      const actions = (parts.pop() ?? '').split(',');
      const type = parts.shift() ?? '';
      // Anonymous callers get nothing: the registry then answers 401 again.
      return user === '' ? [] : [{ type, name: parts.join(':'), actions }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [x5c] }));
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        sub: user,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: `${now}-${requests.length}`,
        access,
      }),
    );
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
    const token = `${header}.${claims}.${b64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: 300,
        issued_at: new Date().toISOString(),
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${String(port)}/token`,
    service,
    issuer,
    certFile,
    requests,
    close: () =>
      new Promise((r) =>
        server.close(() => {
          r();
        }),
      ),
  };
}
