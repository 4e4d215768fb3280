// `auth.oauth2` against a token server over HTTPS (the test CA), on a fake clock: one token
// for many deliveries, a new one at expiry, one refresh on a 401, failed attempts with their
// own code while the token server fails, and neither the secret nor a token anywhere shown.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.ts';
import { makeTestCertificates } from '../../support/certificates.ts';
import {
  FakeClock,
  closedAfterTests,
  envelope,
  pushEvent,
  settle,
  waitUntil,
} from '../../support/helpers.ts';
import { startOAuth2Server, type OAuth2Server } from '../../support/oauth2-server.ts';

const scope = closedAfterTests();
const SECRET = 'client-secret-that-must-never-show-0123';
const ADMIN = 'oauth2-admin-token';
let dir = '';
let tokens: OAuth2Server | undefined;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relay-oauth2-'));
  makeTestCertificates(dir);
  tokens = await startOAuth2Server(dir, { id: 'relay', secret: SECRET }, 60);
});
after(async () => {
  await tokens?.close();
});

describe('auth.oauth2', () => {
  it('one token for many deliveries, a new one at expiry, one refresh on a 401; failures are attempts with their code; nothing secret shown', async () => {
    assert.ok(tokens);
    const server = tokens;
    const clock = new FakeClock();
    /** Tokens the receiver refuses (revoked early). */
    const revoked = new Set<string>();
    const seen: (string | undefined)[] = [];
    const rx = await scope.receiver((req, res) => {
      const auth = req.headers['authorization'];
      seen.push(typeof auth === 'string' ? auth : undefined);
      const token = typeof auth === 'string' ? auth.replace(/^Bearer /, '') : '';
      res.writeHead(revoked.has(token) ? 401 : 200).end();
    });
    const relay = await scope.relay(
      [
        {
          name: 'gateway',
          url: rx.url,
          threshold: 1,
          backoff: '1s',
          auth: {
            oauth2: {
              tokenUrl: server.url,
              clientId: 'relay',
              clientSecret: SECRET,
              scopes: ['events:write', 'registry'],
              audience: 'https://gateway.example.com',
              ca: join(dir, 'ca.pem'),
            },
          },
        },
      ],
      { http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0', auth: { tokens: [ADMIN] } } } },
      { clock },
    );
    const admin = async (path: string) =>
      await (
        await fetch(`${relay.debugUrl}/api/v1${path}`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        })
      ).text();

    // Twenty deliveries, one token request.
    const first = Array.from({ length: 20 }, () => pushEvent());
    assert.equal((await relay.post(envelope(...first))).status, 202);
    await rx.waitFor(20);
    assert.equal(server.tokens.length, 1, 'one token request for twenty deliveries');
    assert.deepEqual(server.requests[0], {
      grant: 'client_credentials',
      scope: 'events:write registry',
      audience: 'https://gateway.example.com',
    });
    assert.ok(seen.every((a) => a === `Bearer ${server.tokens[0] ?? ''}`));

    // It expires in 60 s and is renewed 30 s early: at 31 s, one new request.
    await clock.advance(31_000);
    assert.equal((await relay.post(envelope(pushEvent(), pushEvent()))).status, 202);
    await rx.waitFor(22);
    assert.equal(server.tokens.length, 2, 'a new token once the first is due to expire');
    assert.equal(seen[21], `Bearer ${server.tokens[1] ?? ''}`);

    // The receiver refuses the current token: one refresh, the same request again.
    revoked.add(server.tokens[1] ?? '');
    assert.equal((await relay.post(envelope(pushEvent()))).status, 202);
    await rx.waitFor(24);
    assert.equal(server.tokens.length, 3, 'one refresh after the 401');
    assert.equal(seen[22], `Bearer ${server.tokens[1] ?? ''}`);
    assert.equal(seen[23], `Bearer ${server.tokens[2] ?? ''}`);
    const view = JSON.parse(await admin('/endpoints/gateway')) as {
      state: string;
      failed: number;
    };
    assert.equal(view.state, 'delivering', 'the 401 and its refresh are one successful attempt');

    // The token server fails: no request is made, each attempt fails with OAUTH2 and the
    // breaker backs off; once it answers again the event is delivered.
    await clock.advance(31_000);
    server.failWith = 503;
    const late = pushEvent();
    assert.equal((await relay.post(envelope(late))).status, 202);
    await waitUntil(
      async () =>
        (JSON.parse(await admin('/endpoints/gateway')) as { state: string }).state ===
        'backing-off',
      10_000,
      'the endpoint backs off',
    );
    assert.equal(rx.requests.length, 24, 'no request without a token');
    const attempts = JSON.parse(await admin('/endpoints/gateway/attempts?limit=100')) as {
      attempts: { result: string; code?: string; message?: string }[];
    };
    const failed = attempts.attempts.find((a) => a.code === 'OAUTH2');
    assert.ok(failed, JSON.stringify(attempts.attempts.slice(0, 3)));
    assert.equal(failed.result, 'error');
    assert.match(failed.message ?? '', /no OAuth2 token: the token server answered 503/);
    server.failWith = undefined;
    await clock.advance(1000);
    await rx.waitFor(25);
    assert.equal(rx.ids().at(-1), late['id']);

    // Neither the client secret nor any token in vars, metrics, logs, the attempts log or
    // the admin API.
    await settle(10);
    const shown = [
      await (await fetch(`${relay.debugUrl}/debug/vars`)).text(),
      await (await fetch(`${relay.debugUrl}/metrics`)).text(),
      relay.lines.join('\n'),
      await admin('/endpoints/gateway/attempts?limit=1000'),
      await admin('/endpoints'),
      await admin('/openapi.json'),
    ].join('\n');
    assert.ok(!shown.includes(SECRET), 'the client secret is shown nowhere');
    for (const t of server.tokens) assert.ok(!shown.includes(t), `token ${t} is shown nowhere`);
    assert.ok(shown.includes('OAUTH2'), 'what was searched is what was shown');
  });

  it('the config names what is wrong; the secret can come from a file', () => {
    const config = (endpoint: Record<string, unknown>) =>
      stringify({
        notifications: {
          endpoints: [{ name: 'ep', url: 'https://gw.example.com/hook', ...endpoint }],
        },
      });
    const oauth2 = { tokenUrl: 'https://idp.example.com/token', clientId: 'relay' };
    assert.throws(
      () =>
        parseConfig(
          config({
            auth: {
              oauth2: { ...oauth2, tokenUrl: 'http://idp.example.com/token', clientSecret: 's' },
            },
          }),
          'c',
        ),
      /tokenUrl: expected the https:\/\/ token URL/,
    );
    assert.throws(
      () => parseConfig(config({ auth: { oauth2 } }), 'c'),
      /give either clientSecret or clientSecretFile/,
    );
    assert.throws(
      () =>
        parseConfig(
          config({
            headers: { Authorization: ['Bearer static'] },
            auth: { oauth2: { ...oauth2, clientSecret: 's' } },
          }),
          'c',
        ),
      /auth\.oauth2 sends the Authorization header; remove this one/,
    );
    assert.throws(
      () =>
        parseConfig(
          config({ auth: { oauth2: { ...oauth2, clientSecretFile: '/nonexistent/secret' } } }),
          'c',
        ),
      /clientSecretFile.*cannot read \/nonexistent\/secret/s,
    );
    const file = join(dir, 'client-secret');
    writeFileSync(file, `${SECRET}\n`);
    const parsed = parseConfig(
      config({ auth: { oauth2: { ...oauth2, clientSecretFile: file } } }),
      'c',
    );
    assert.equal(parsed.notifications.endpoints[0]?.oauth2?.clientSecret, SECRET);
  });
});
