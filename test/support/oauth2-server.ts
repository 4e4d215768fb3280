// An OAuth2 token server for the client-credentials grant (RFC 6749 §4.4) over HTTPS with
// the test CA: checks the client's Basic credentials, hands out numbered bearer tokens, and
// can be told to fail or to stop answering.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface OAuth2Server {
  readonly url: string;
  /** Every token request: the form it posted (client secret not kept). */
  readonly requests: { grant: string | null; scope: string | null; audience: string | null }[];
  /** Tokens handed out, in order. */
  readonly tokens: string[];
  /** While set, token requests are answered with this status and an OAuth2 error. */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** Starts the server with `dir`'s test certificates (makeTestCertificates). */
export async function startOAuth2Server(
  dir: string,
  client: { id: string; secret: string },
  expiresIn = 3600,
): Promise<OAuth2Server> {
  const requests: OAuth2Server['requests'] = [];
  const tokens: string[] = [];
  const state = { failWith: undefined as number | undefined };
  // RFC 6749 §2.3.1: each of id and secret form-urlencoded, then `id:secret` in Basic.
  const decode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));
  const authorized = (header: string | undefined): boolean => {
    const m = /^Basic (.+)$/.exec(header ?? '');
    if (!m) return false;
    const [id = '', secret = ''] = Buffer.from(m[1] ?? '', 'base64')
      .toString()
      .split(':');
    return decode(id) === client.id && decode(secret) === client.secret;
  };
  const server: Server = createServer(
    {
      key: readFileSync(join(dir, 'server.key')),
      cert: readFileSync(join(dir, 'server.pem')),
    },
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        requests.push({
          grant: form.get('grant_type'),
          scope: form.get('scope'),
          audience: form.get('audience'),
        });
        const json = (status: number, doc: unknown) => {
          res.writeHead(status, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
          });
          res.end(JSON.stringify(doc));
        };
        if (state.failWith !== undefined) {
          json(state.failWith, { error: 'temporarily_unavailable' });
          return;
        }
        if (!authorized(req.headers.authorization)) {
          json(401, { error: 'invalid_client' });
          return;
        }
        const token = `token-${String(tokens.length + 1)}-${'x'.repeat(24)}`;
        tokens.push(token);
        json(200, { access_token: token, token_type: 'Bearer', expires_in: expiresIn });
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${String(port)}/oauth2/token`,
    requests,
    tokens,
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
