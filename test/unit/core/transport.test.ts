import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makeTestCertificates } from '../../support/certificates.ts';
import { closedAfterTests, envelope, pushEvent, settle, waitUntil } from '../../support/helpers.ts';

const scope = closedAfterTests();
const dir = mkdtempSync(join(tmpdir(), 'relay-tls-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all made here. */
const makeCertificates = (): void => {
  makeTestCertificates(dir);
};

const file = (name: string): string => join(dir, name);

/** An HTTPS receiver with the test CA's server certificate; optionally requires a client one. */
async function httpsReceiver(requireClientCert: boolean) {
  const peers: string[] = [];
  const bodies: string[] = [];
  const server = createHttpsServer(
    {
      key: readFileSync(file('server.key')),
      cert: readFileSync(file('server.pem')),
      ca: readFileSync(file('ca.pem')),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    },
    (req, res) => {
      const socket = req.socket;
      assert.ok(socket instanceof TLSSocket);
      // An empty object when the client presented no certificate.
      const subject = socket.getPeerCertificate().subject as { CN?: unknown } | undefined;
      peers.push(typeof subject?.CN === 'string' ? subject.CN : '');
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(200).end();
      });
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    peers,
    bodies,
  };
}

/**
 * A forward proxy: CONNECT tunnels and absolute-URI requests, each target recorded. With
 * `credentials` ("user:pass") it answers 407 to a request without them.
 */
async function startProxy(credentials?: string) {
  const targets: string[] = [];
  const expected =
    credentials === undefined ? undefined : `Basic ${Buffer.from(credentials).toString('base64')}`;
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    targets.push(`GET-style ${req.url ?? ''}`);
    const upstream = httpRequest(
      req.url ?? '',
      { method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    if (expected !== undefined && req.headers['proxy-authorization'] !== expected) {
      targets.push(`refused ${req.url ?? ''}`);
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host ?? '', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets };
}

describe('TLS', () => {
  before(makeCertificates);

  it('verifies the endpoint with tls.ca and presents the client certificate', async () => {
    const rx = await httpsReceiver(true);
    const relay = await scope.relay([
      {
        name: 'mtls',
        url: rx.url,
        tls: { ca: file('ca.pem'), cert: file('client.pem'), key: file('client.key') },
      },
    ]);
    const event = pushEvent();
    assert.equal((await relay.post(envelope(event))).status, 202);
    await waitUntil(() => rx.bodies.length === 1, 10_000, 'delivery over mutual TLS');
    assert.deepEqual(rx.peers, ['registry-relay']);
    assert.equal(rx.bodies[0], envelope(event));
  });

  it('fails (and retries) without a client certificate, or without the CA', async () => {
    const rx = await httpsReceiver(true);
    const relay = await scope.relay([
      { name: 'no-cert', url: rx.url, tls: { ca: file('ca.pem') }, backoff: '1h', threshold: 1 },
      { name: 'no-ca', url: rx.url, backoff: '1h', threshold: 1 },
    ]);
    await relay.post(envelope(pushEvent()));
    for (const name of ['no-cert', 'no-ca']) {
      const deadline = Date.now() + 10_000;
      while ((await relay.endpointVars(name)).Metrics.Errors === 0) {
        assert.ok(Date.now() < deadline, `${name}: no failed attempt within 10s`);
        await settle(5);
      }
      assert.equal((await relay.endpointVars(name)).Metrics.Pending, 1, 'kept for a retry');
    }
    assert.equal(rx.bodies.length, 0);
    assert.ok(
      relay.lines.some((l) =>
        /"endpoint":"no-ca".*request failed: (UNABLE_TO_VERIFY|SELF_SIGNED|DEPTH_ZERO)/.test(l),
      ),
    );
  });

  it('insecureSkipVerify delivers without verifying, and says so at start', async () => {
    const rx = await httpsReceiver(false);
    const relay = await scope.relay([
      { name: 'lab', url: rx.url, tls: { insecureSkipVerify: true } },
    ]);
    await relay.post(envelope(pushEvent()));
    await waitUntil(() => rx.bodies.length === 1, 10_000, 'delivery without verification');
    assert.ok(
      relay.lines.some((l) => l.includes('"endpoint":"lab"') && l.includes('insecureSkipVerify')),
    );
  });
});

describe('proxies', () => {
  it('sends through `proxy` (a CONNECT tunnel), TLS to the endpoint inside it', async () => {
    const proxy = await startProxy();
    const rx = await httpsReceiver(false);
    const relay = await scope.relay([
      { name: 'via', url: rx.url, proxy: proxy.url, tls: { ca: file('ca.pem') } },
    ]);
    await relay.post(envelope(pushEvent()));
    await waitUntil(() => rx.bodies.length === 1, 10_000, 'delivery through the proxy');
    assert.deepEqual(proxy.targets, [new URL(rx.url).host]);
    assert.ok(relay.lines.some((l) => l.includes('requests go through a proxy')));
  });

  it('authenticates to the proxy with the credentials in its URL, and never logs them', async () => {
    const proxy = await startProxy('relay:pr0xy-pass');
    const rx = await scope.receiver();
    const url = new URL(proxy.url);
    url.username = 'relay';
    url.password = 'pr0xy-pass';
    const relay = await scope.relay([{ name: 'auth', url: rx.url, proxy: url.toString() }]);
    await relay.post(envelope(pushEvent()));
    await rx.waitFor(1);
    assert.deepEqual(proxy.targets, [`127.0.0.1:${String(rx.port)}`]);
    assert.ok(relay.lines.some((l) => l.includes('requests go through a proxy')));
    assert.ok(relay.lines.every((l) => !l.includes('pr0xy-pass')));
  });

  it('honours HTTP_PROXY and NO_PROXY from the environment', async () => {
    const proxy = await startProxy();
    const rx = await scope.receiver();
    const viaEnv = await scope.relay(
      [{ name: 'env', url: rx.url }],
      {},
      { env: { HTTP_PROXY: proxy.url } },
    );
    await viaEnv.post(envelope(pushEvent()));
    await rx.waitFor(1);
    assert.equal(proxy.targets.length, 1, 'through the proxy');
    assert.match(proxy.targets[0] ?? '', new RegExp(String(rx.port)));

    const bypass = await scope.relay(
      [{ name: 'env', url: rx.url }],
      {},
      { env: { http_proxy: proxy.url, NO_PROXY: '127.0.0.1' } },
    );
    await bypass.post(envelope(pushEvent()));
    await rx.waitFor(2);
    assert.equal(proxy.targets.length, 1, 'NO_PROXY: straight to the endpoint');
  });
});
