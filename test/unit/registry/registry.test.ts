import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { provisionalId, type FactName } from '../../../src/core/image.ts';
import { parseChallenge } from '../../../src/registry/challenge.ts';
import { RegistryClient, type RegistryPlan } from '../../../src/registry/client.ts';
import { classify, referrerTag } from '../../../src/registry/manifest.ts';
import { Registries } from '../../../src/registry/registries.ts';
import { FakeClock, memoryLogger, settle } from '../../support/helpers.ts';
import { assertValidEnvelope } from '../../support/schema.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** An HTTP server on a port the OS chooses that answers as `handler` says and counts requests. */
async function server(handler: Handler) {
  const seen: {
    method: string;
    url: string;
    authorization: string | undefined;
    ua: string | undefined;
  }[] = [];
  const srv = createServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      ua: req.headers['user-agent'],
    });
    handler(req, res);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    host: `127.0.0.1:${String(port)}`,
    seen,
    close: () => {
      srv.closeAllConnections();
      return new Promise<void>((r) => {
        srv.close(() => {
          r();
        });
      });
    },
  };
}

const plan = (url: string, over: Partial<RegistryPlan> = {}): RegistryPlan => ({
  name: 'test',
  url,
  hosts: [new URL(url).host],
  auth: { kind: 'anonymous' },
  tls: undefined,
  proxy: undefined,
  timeoutMs: 2000,
  concurrency: 4,
  waitMs: 1000,
  cacheEntries: 100,
  referrersMaxAgeMs: 30_000,
  reconcile: undefined,
  ...over,
});

const silent = {
  onRequest: () => undefined,
  onCache: () => undefined,
  onFactsReady: () => undefined,
};

const sha = (body: string) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

describe('WWW-Authenticate challenges', () => {
  it('reads Basic and Bearer (quoted, unquoted, escaped), and nothing else', () => {
    assert.deepEqual(parseChallenge('Basic realm="acc"'), { scheme: 'basic' });
    assert.deepEqual(
      parseChallenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/a:pull"',
      ),
      {
        scheme: 'bearer',
        realm: 'https://auth.example.com/token',
        service: 'registry.example.com',
        scope: 'repository:team/a:pull',
      },
    );
    assert.deepEqual(parseChallenge('bearer realm=https://a/t, service=s'), {
      scheme: 'bearer',
      realm: 'https://a/t',
      service: 's',
      scope: undefined,
    });
    assert.equal(parseChallenge('Bearer service="s"'), undefined, 'no realm');
    assert.equal(parseChallenge('Negotiate abc'), undefined);
    assert.equal(parseChallenge(undefined), undefined);
  });
});

describe('referrer kinds and tags', () => {
  it('names cosign, Notation, SPDX, CycloneDX and in-toto artifact types, and cosign tags', () => {
    assert.deepEqual(classify('application/vnd.dev.cosign.artifact.sig.v1+json'), {
      kind: 'signature',
      format: 'cosign',
    });
    assert.deepEqual(classify('application/vnd.cncf.notary.signature'), {
      kind: 'signature',
      format: 'notation',
    });
    assert.deepEqual(classify('application/spdx+json'), { kind: 'sbom', format: 'spdx' });
    assert.deepEqual(classify('application/vnd.cyclonedx+json'), {
      kind: 'sbom',
      format: 'cyclonedx',
    });
    assert.deepEqual(classify('application/vnd.in-toto+json'), {
      kind: 'attestation',
      format: 'in-toto',
    });
    assert.deepEqual(classify('application/vnd.example'), {
      kind: 'other',
      format: 'application/vnd.example',
    });
    const hex = 'a'.repeat(64);
    assert.deepEqual(referrerTag(`sha256-${hex}.sig`), {
      subject: `sha256:${hex}`,
      kind: 'signature',
    });
    assert.deepEqual(referrerTag(`sha256-${hex}.att`), {
      subject: `sha256:${hex}`,
      kind: 'attestation',
    });
    assert.deepEqual(referrerTag(`sha256-${hex}`), { subject: `sha256:${hex}`, kind: 'other' });
    assert.equal(referrerTag('latest'), undefined);
  });
});

describe('registry client: sign-in', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c();
  });

  it('Basic: answers the challenge with the credentials, then sends them at once', async () => {
    const expected = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const reg = await server((req, res) => {
      if (req.headers.authorization !== expected)
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      else res.writeHead(200).end('{}');
    });
    closers.push(reg.close);
    const client = new RegistryClient(
      plan(reg.url, { auth: { kind: 'basic', username: 'u', password: 'p' } }),
      {
        clock: new FakeClock(),
        listener: silent,
        env: {},
      },
    );
    closers.push(() => client.close());
    assert.equal(
      (await client.call('manifest', 'GET', 'a/manifests/x', { scope: 'repository:a:pull' }))
        .status,
      200,
    );
    assert.equal(
      (await client.call('manifest', 'GET', 'a/manifests/y', { scope: 'repository:a:pull' }))
        .status,
      200,
    );
    assert.deepEqual(
      reg.seen.map((s) => s.authorization),
      [undefined, expected, expected],
    );
    assert.ok(reg.seen.every((s) => s.ua?.startsWith('registry-relay/') === true));
  });

  it('token flow: asks the realm the registry names, keeps the token per scope until shortly before it expires', async () => {
    let issued = 0;
    const realm = await server((req, res) => {
      issued += 1;
      const url = new URL(req.url ?? '/', 'http://x');
      assert.equal(url.searchParams.get('service'), 'svc');
      assert.equal(req.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          token: `t${String(issued)}-${url.searchParams.get('scope') ?? ''}`,
          expires_in: 60,
        }),
      );
    });
    closers.push(realm.close);
    const reg = await server((req, res) => {
      const scope = `repository:${(req.url ?? '').split('/')[2] ?? ''}:pull`;
      if (!(req.headers.authorization ?? '').startsWith('Bearer t')) {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="${realm.url}/token",service="svc",scope="${scope}"`,
          })
          .end();
      } else res.writeHead(200).end('{}');
    });
    closers.push(reg.close);
    const clock = new FakeClock();
    const client = new RegistryClient(
      plan(reg.url, { auth: { kind: 'basic', username: 'u', password: 'p' } }),
      { clock, listener: silent, env: {} },
    );
    closers.push(() => client.close());
    const get = (repo: string) =>
      client.call('manifest', 'GET', `${repo}/manifests/x`, { scope: `repository:${repo}:pull` });
    await Promise.all([get('a'), get('a'), get('a')]);
    assert.equal(issued, 1, 'requests meeting the same challenge share one token');
    await get('b');
    assert.equal(issued, 2, 'another scope, another token');
    await clock.advance(50_000);
    await get('a');
    assert.equal(issued, 2, 'still valid 50 s into 60');
    await clock.advance(6_000);
    await get('a');
    assert.equal(issued, 3, 'asked again within 5 s of expiry');
  });

  it('a realm that refuses, a registry that refuses the token, and a realm that is not http are named failures', async () => {
    const realm = await server((_req, res) => res.writeHead(401).end());
    closers.push(realm.close);
    let challenge = `Bearer realm="${realm.url}/token",service="svc"`;
    const reg = await server((_req, res) =>
      res.writeHead(401, { 'www-authenticate': challenge }).end(),
    );
    closers.push(reg.close);
    const client = new RegistryClient(
      plan(reg.url, { auth: { kind: 'basic', username: 'u', password: 'hunter2' } }),
      {
        clock: new FakeClock(),
        listener: silent,
        env: {},
      },
    );
    closers.push(() => client.close());
    const get = () =>
      client.call('manifest', 'GET', 'a/manifests/x', { scope: 'repository:a:pull' });
    await assert.rejects(
      get(),
      (err: unknown) =>
        err instanceof RegistryError &&
        err.reason === 'unauthorized' &&
        !err.message.includes('hunter2'),
    );
    challenge = 'Bearer realm="file:///etc/passwd"';
    await assert.rejects(
      get(),
      (err: unknown) =>
        err instanceof RegistryError && err.reason === 'bad_answer' && /not http/.test(err.message),
    );
    challenge = 'Negotiate x';
    await assert.rejects(
      get(),
      (err: unknown) => err instanceof RegistryError && err.reason === 'unauthorized',
    );
  });

  it('never more than `concurrency` requests at once', async () => {
    let open = 0;
    let most = 0;
    const reg = await server((_req, res) => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => {
        open -= 1;
        res.writeHead(200).end('{}');
      }, 20);
    });
    closers.push(reg.close);
    const client = new RegistryClient(plan(reg.url, { concurrency: 2 }), {
      clock: new FakeClock(),
      listener: silent,
      env: {},
    });
    closers.push(() => client.close());
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        client.call('blob', 'GET', `a/blobs/${String(i)}`, { scope: 's' }),
      ),
    );
    assert.equal(most, 2);
  });

  it('an unreachable registry and a slow one are `unreachable` and `timeout`', async () => {
    const reg = await server(() => undefined);
    closers.push(reg.close);
    const slow = new RegistryClient(plan(reg.url, { timeoutMs: 100 }), {
      clock: new FakeClock(),
      listener: silent,
      env: {},
    });
    closers.push(() => slow.close());
    await assert.rejects(
      slow.call('blob', 'GET', 'a/blobs/x', { scope: 's' }),
      (err: unknown) => err instanceof RegistryError && err.reason === 'timeout',
    );
    const gone = new RegistryClient(plan('http://127.0.0.1:1'), {
      clock: new FakeClock(),
      listener: silent,
      env: {},
    });
    closers.push(() => gone.close());
    await assert.rejects(
      gone.call('blob', 'GET', 'a/blobs/x', { scope: 's' }),
      (err: unknown) => err instanceof RegistryError && err.reason === 'unreachable',
    );
  });
});

describe('registries: what an event may make the relay ask', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c();
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:c', size: 10 },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: 'sha256:l', size: 90 },
    ],
  });
  const digest = sha(manifest);
  const config = JSON.stringify({
    os: 'linux',
    architecture: 'arm64',
    config: { Labels: { team: 'a' } },
  });
  const all = new Set<FactName>(['size', 'platforms', 'labels', 'referrers']);

  const event = (
    target: Record<string, unknown>,
    extra: Record<string, unknown> = {},
    id = 'e1',
  ) => ({
    id,
    envelope: JSON.stringify({
      events: [{ id, action: 'push', target: { repository: 'team/app', ...target }, ...extra }],
    }),
    acceptedAt: 0,
  });

  async function registry(answer: (url: string) => [number, string, Record<string, string>?]) {
    const reg = await server((req, res) => {
      const [status, body, headers] = answer(req.url ?? '');
      res
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(req.method === 'HEAD' ? undefined : body);
    });
    closers.push(reg.close);
    return reg;
  }

  it('an event naming another host, or a crafted URL, selects no registry and makes no request', async () => {
    const reg = await registry(() => [200, manifest]);
    const elsewhere = await registry(() => [200, manifest]);
    const { log } = memoryLogger();
    const registries = new Registries([plan(reg.url)], {
      clock: new FakeClock(),
      log,
      listener: silent,
      env: {},
      sources: new Map(),
      dedupWindowMs: 1000,
    });
    closers.push(() => registries.close());
    const p = await registries.prepare(
      event(
        {
          digest,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          url: `${elsewhere.url}/v2/team/app/manifests/${digest}`,
        },
        { request: { host: elsewhere.host } },
      ),
      { facts: all, waitMs: 1000 },
    );
    assert.equal(p.kind, 'event');
    assert.equal(p.facts?.unavailable, 'no_registry');
    assert.equal(elsewhere.seen.length, 0);
    assert.equal(reg.seen.length, 0);
  });

  it('a repository or digest that is not one is refused before any request', async () => {
    const reg = await registry(() => [200, manifest]);
    const { log } = memoryLogger();
    const registries = new Registries([plan(reg.url)], {
      clock: new FakeClock(),
      log,
      listener: silent,
      env: {},
      sources: new Map(),
      dedupWindowMs: 1000,
    });
    closers.push(() => registries.close());
    for (const target of [{ repository: '../../admin', digest }, { digest: 'sha256:../../x' }]) {
      const p = await registries.prepare(
        event(
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...target },
          { request: { host: reg.host } },
        ),
        {
          facts: all,
          waitMs: 1000,
        },
      );
      assert.equal(p.kind === 'event' ? p.facts?.unavailable : '', 'bad_reference');
    }
    assert.equal(reg.seen.length, 0);
  });

  it('a manifest whose content is not its digest is a bad answer, not facts', async () => {
    const reg = await registry((url) =>
      url.includes('/manifests/') ? [200, `${manifest} `] : [404, ''],
    );
    const { log } = memoryLogger();
    const registries = new Registries([plan(reg.url)], {
      clock: new FakeClock(),
      log,
      listener: silent,
      env: {},
      sources: new Map(),
      dedupWindowMs: 1000,
    });
    closers.push(() => registries.close());
    const p = await registries.prepare(
      event(
        { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
        { request: { host: reg.host } },
      ),
      {
        facts: all,
        waitMs: 1000,
      },
    );
    assert.equal(p.kind === 'event' ? p.facts?.unavailable : '', 'bad_answer');
    assert.equal(registries.states()[0]?.state, 'failing');
  });

  it('past the wait, the event goes without facts (marked timeout); the facts, once read, serve the next event', async () => {
    let hold: (() => void) | undefined;
    const reg = await server((req, res) => {
      const send = () => {
        if (req.url?.includes(`/manifests/${digest}`)) res.writeHead(200).end(manifest);
        else if (req.url?.includes('/blobs/')) res.writeHead(200).end(config);
        else res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
      };
      if (hold === undefined && req.url?.includes('/manifests/sha256:')) hold = send;
      else send();
    });
    closers.push(reg.close);
    const clock = new FakeClock();
    const { log } = memoryLogger();
    const registries = new Registries([plan(reg.url)], {
      clock,
      log,
      listener: silent,
      env: {},
      sources: new Map(),
      dedupWindowMs: 1000,
    });
    closers.push(() => registries.close());
    const ev = event(
      { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
      { request: { host: reg.host } },
    );
    const first = registries.prepare(ev, { facts: all, waitMs: 3000 });
    while (hold === undefined) await settle();
    await clock.advance(3000);
    const p1 = await first;
    assert.equal(p1.kind === 'event' ? p1.facts?.unavailable : '', 'timeout');
    assert.match(p1.kind === 'event' ? p1.event.envelope : '', /"unavailable":"timeout"/);
    hold();
    await new Promise((r) => setTimeout(r, 50));
    const p2 = await registries.prepare({ ...ev, id: 'e2' }, { facts: all, waitMs: 3000 });
    assert.equal(p2.kind === 'event' ? p2.facts?.size : 0, 100);
    assert.deepEqual(p2.kind === 'event' ? p2.facts?.platforms : [], [
      { os: 'linux', architecture: 'arm64' },
    ]);
    assert.deepEqual(p2.kind === 'event' ? p2.facts?.labels : {}, { team: 'a' });
    assert.equal(p2.kind === 'event' ? p2.facts?.signed : undefined, false);
    assert.equal(
      reg.seen.filter((s) => s.url.includes(`/manifests/${digest}`)).length,
      1,
      'the manifest was read once',
    );
  });

  it('a tag-only push: resolved once for every endpoint, its id derived from the digest; a re-send within the window is a duplicate', async () => {
    let current = digest;
    const reg = await registry((url) =>
      url.includes('/manifests/latest')
        ? [
            200,
            '',
            {
              'docker-content-digest': current,
              'content-type': 'application/vnd.oci.image.manifest.v1+json',
            },
          ]
        : [404, ''],
    );
    const clock = new FakeClock();
    const { log } = memoryLogger();
    const registries = new Registries([plan(reg.url)], {
      clock,
      log,
      listener: silent,
      env: {},
      sources: new Map(),
      dedupWindowMs: 60_000,
    });
    closers.push(() => registries.close());
    const tagged = (n: number) => ({
      ...event(
        { tag: 'latest' },
        { request: { host: reg.host }, relay: { source: 'q', type: 'quay' } },
        provisionalId('quay-abc', String(n)),
      ),
      id: provisionalId('quay-abc', String(n)),
    });
    const a = await registries.prepare(tagged(1), undefined);
    const again = await registries.prepare(tagged(1), undefined);
    assert.equal(a.kind, 'event');
    assert.deepEqual(again, a, 'a second endpoint gets the same answer');
    assert.equal(reg.seen.length, 1, 'resolved once');
    const id = a.event.id;
    assert.match(id, /^quay-[A-Za-z0-9_-]{32}$/);
    assertValidEnvelope(JSON.parse(a.event.envelope), 'a resolved tag-only push');
    assert.match(a.event.envelope, new RegExp(`"digest":"${digest}"`));
    assert.deepEqual(await registries.prepare(tagged(2), undefined), {
      kind: 'duplicate',
      of: provisionalId('quay-abc', '1'),
    });
    current = sha('other');
    const b = await registries.prepare(tagged(3), undefined);
    assert.ok(b.kind === 'event' && b.event.id !== id, 'new content, new event');
    await clock.advance(61_000);
    current = digest;
    const late = await registries.prepare(tagged(4), undefined);
    assert.ok(
      late.kind === 'event' && late.event.id === id,
      'after the window, the same content is delivered again',
    );
  });

  it('the referrers API, where the registry has it: Notation signatures, SPDX SBOMs, in-toto attestations; no tag schema asked', async () => {
    const referrers = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: 'sha256:n1',
          size: 1,
          artifactType: 'application/vnd.cncf.notary.signature',
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: 'sha256:s1',
          size: 1,
          artifactType: 'application/spdx+json',
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: 'sha256:a1',
          size: 1,
          artifactType: 'application/vnd.in-toto+json',
        },
      ],
    });
    const reg = await registry((url) => {
      if (url.includes('/referrers/'))
        return [200, referrers, { 'content-type': 'application/vnd.oci.image.index.v1+json' }];
      if (url.includes(`/manifests/${digest}`)) return [200, manifest];
      if (url.includes('/blobs/')) return [200, config];
      return [404, ''];
    });
    const { log } = memoryLogger();
    const registries = new Registries([plan(reg.url)], {
      clock: new FakeClock(),
      log,
      listener: silent,
      env: {},
      sources: new Map(),
      dedupWindowMs: 1000,
    });
    closers.push(() => registries.close());
    const p = await registries.prepare(
      event(
        { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
        { request: { host: reg.host } },
      ),
      {
        facts: all,
        waitMs: 1000,
      },
    );
    assert.equal(p.kind, 'event');
    assertValidEnvelope(JSON.parse(p.event.envelope), 'an enriched event');
    assert.equal(p.facts?.signed, true);
    assert.deepEqual(p.facts.signatures, [
      {
        format: 'notation',
        digest: 'sha256:n1',
        artifactType: 'application/vnd.cncf.notary.signature',
        via: 'referrers-api',
      },
    ]);
    assert.deepEqual(
      p.facts.sboms?.map((r) => r.format),
      ['spdx'],
    );
    assert.deepEqual(
      p.facts.attestations?.map((r) => r.format),
      ['in-toto'],
    );
    assert.ok(!reg.seen.some((r) => r.url.includes('sha256-')), 'no tag-schema requests');
  });

  it('an unresolvable tag goes with the id it would have had without registries', async () => {
    const reg = await registry(() => [404, '']);
    const { log } = memoryLogger();
    const registries = new Registries([plan(reg.url)], {
      clock: new FakeClock(),
      log,
      listener: silent,
      env: {},
      sources: new Map(),
      dedupWindowMs: 1000,
    });
    closers.push(() => registries.close());
    const id = provisionalId('quay-abc', '1');
    const p = await registries.prepare(
      event({ tag: 'latest' }, { request: { host: reg.host } }, id),
      undefined,
    );
    assert.equal(p.kind === 'event' ? p.event.id : '', 'quay-abc');
    assert.match(p.kind === 'event' ? p.event.envelope : '', /"unavailable":"not_found"/);
  });
});
