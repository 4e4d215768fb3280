// Every sender's adapter on that product's documented payloads (test/fixtures/sources/, each
// folder says where its payloads come from): the normalised events field by field, types
// that are not mapped ignored, malformed bodies refused naming what is wrong, verification,
// and arbitrary JSON never crashing an adapter.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.ts';
import { isObject, SOURCE_TYPES, type Normalized } from '../../../src/sources/adapter.ts';
import { QUAY_EVENTS } from '../../../src/sources/quay.ts';
import { closedAfterTests } from '../../support/helpers.ts';
import { nearMiss } from '../../support/near-miss.ts';
import { ADAPTERS } from '../../../src/sources/index.ts';
import { verify } from '../../../src/sources/verify.ts';
import { SourceBodyError, VerifyError } from '../../../src/core/errors.ts';

const scope = closedAfterTests();
const RECEIVED = Date.parse('2026-01-02T03:04:05.000Z');

function fixture(path: string): unknown {
  return JSON.parse(
    readFileSync(new URL(`../../fixtures/sources/${path}`, import.meta.url), 'utf8'),
  ) as unknown;
}

function run(
  type: (typeof SOURCE_TYPES)[number],
  body: unknown,
  headers: IncomingHttpHeaders = {},
): Normalized {
  return ADAPTERS[type]({ headers, body, receivedAt: RECEIVED });
}

function events(result: Normalized): Record<string, unknown>[] {
  if (result.kind !== 'events') assert.fail(`expected events, got ${JSON.stringify(result)}`);
  return [...result.events];
}

const target = (e: Record<string, unknown> | undefined) => e?.['target'] as Record<string, unknown>;

/** Every fixture of a sender as its request: the headers (of those that hold them) and the body. */
function fixtureRequests(
  type: string,
): { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] {
  return readdirSync(new URL(`../../fixtures/sources/${type}/`, import.meta.url))
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const raw = fixture(`${type}/${f}`) as Record<string, unknown>;
      return isObject(raw['headers']) && isObject(raw['body'])
        ? { headers: raw['headers'] as IncomingHttpHeaders, body: raw['body'] }
        : { headers: { 'x-github-event': 'registry_package' }, body: raw };
    });
}

describe('source adapters', () => {
  it('harbor: Default and CloudEvents pushes and pulls; unknown types ignored', () => {
    const [push] = events(run('harbor', fixture('harbor/push-default.json')));
    assert.ok(push);
    assert.equal(push['action'], 'push');
    assert.match(String(push['id']), /^harbor-[A-Za-z0-9_-]{32}$/);
    assert.equal(push['timestamp'], '2023-04-03T06:04:53.000Z');
    assert.deepEqual(target(push), {
      digest: 'sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c',
      repository: 'library/busybox',
      url: 'https://harbor.dev/v2/library/busybox/manifests/sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c',
      tag: 'latest',
    });
    assert.deepEqual(push['actor'], { name: 'admin' });
    assert.deepEqual(push['request'], { host: 'harbor.dev' });
    // The same body again: the same id (a re-send is de-duplicated).
    assert.equal(events(run('harbor', fixture('harbor/push-default.json')))[0]?.['id'], push['id']);

    const [pull] = events(run('harbor', fixture('harbor/pull-cloudevents.json')));
    assert.equal(pull?.['id'], 'harbor-4b2f89a6-548d-4c12-9993-a1f5790b97d2');
    assert.equal(pull['action'], 'pull');
    assert.equal(pull['timestamp'], '2023-03-06T06:08:43.000Z');
    assert.equal(target(pull)['tag'], undefined, 'a pull by digest has no tag');
    assert.equal(target(pull)['repository'], 'library/busybox');
    assert.deepEqual(pull['actor'], {
      name: 'robot$library+scanner-Trivy-51fe4548-bbe5-11ed-9217-0242ac14000d',
    });

    assert.deepEqual(run('harbor', { type: 'UPLOAD_CHART', event_data: {} }), {
      kind: 'ignored',
      type: 'UPLOAD_CHART',
    });
    assert.throws(() => run('harbor', { type: 'PUSH_ARTIFACT' }), /event_data: expected an object/);
  });

  it('quay: one push per updated tag; bodies of no known shape ignored', () => {
    const pushes = events(run('quay', fixture('quay/repo-push.json')));
    assert.deepEqual(
      pushes.map((e) => [e['action'], target(e)['repository'], target(e)['tag']]),
      [
        ['push', 'mynamespace/repository', 'latest'],
        ['push', 'mynamespace/repository', 'v1.2.0'],
      ],
    );
    assert.notEqual(pushes[0]?.['id'], pushes[1]?.['id']);
    assert.equal(pushes[0]?.['timestamp'], new Date(RECEIVED).toISOString());
    assert.deepEqual(pushes[0]['request'], { host: 'quay.io' });
    assert.equal(target(pushes[0])['digest'], undefined, 'Quay sends no digest');
    const [legacy] = events(run('quay', fixture('quay/repo-push-legacy.json')));
    assert.deepEqual(target(legacy), { repository: 'devtable/ubuntu', tag: 'latest' });
    assert.throws(() => run('quay', { repository: 'a/b', updated_tags: [] }), /no tag was updated/);
    assert.deepEqual(run('quay', { repository: 'a/b', namespace: 'a' }), {
      kind: 'ignored',
      type: 'unknown',
    });
    assert.throws(
      () => run('quay', { repository: 'a/b', updated_tags: 'latest' }),
      /updated_tags: expected an array/,
    );
  });

  it('dockerhub: the push with its pusher and time', () => {
    const [push] = events(run('dockerhub', fixture('dockerhub/push.json')));
    assert.equal(push?.['action'], 'push');
    assert.equal(push['timestamp'], '2014-12-03T00:22:41.000Z');
    assert.deepEqual(target(push), { repository: 'svendowideit/testhook', tag: 'latest' });
    assert.deepEqual(push['actor'], { name: 'trustedbuilder' });
    assert.throws(() => run('dockerhub', { repository: {} }), /push_data: expected an object/);
  });

  it('gitlab and distribution: the envelope as it came, extra actions and fields kept', () => {
    const [push, rename] = events(run('gitlab', fixture('gitlab/push-and-rename.json')));
    assert.equal(push?.['action'], 'push');
    assert.equal((push['actor'] as Record<string, unknown>)['user_type'], 'personal_access_token');
    assert.equal(rename?.['action'], 'rename');
    assert.deepEqual(target(rename)['rename'], {
      type: 'name',
      from: 'group/project',
      to: 'group/project-new',
    });
    const [v3] = events(run('distribution', fixture('distribution/v3-push.json')));
    assert.equal(target(v3)['artifactType'], 'application/vnd.example.sbom.v1+json');
    assert.deepEqual(target(v3)['platform'], { architecture: 'arm64', os: 'linux' });
    assert.throws(() => run('gitlab', { events: {} }), /events: expected an array/);
  });

  it('github: a published container version is a push; other packages and events ignored', () => {
    const headers = { 'x-github-event': 'registry_package', 'x-github-delivery': 'd-1' };
    const [push] = events(
      run('github', fixture('github/registry-package-published.json'), headers),
    );
    assert.equal(push?.['id'], 'github-d-1');
    assert.equal(push['action'], 'push');
    assert.equal(push['timestamp'], '2025-11-20T08:15:31.000Z');
    assert.deepEqual(target(push), {
      digest: 'sha256:7b0b1d4b6f1f8c9a3b2e3f0a8d7c6b5a4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b',
      repository: 'octo-org/hello-world',
      url: 'https://ghcr.io/v2/octo-org/hello-world/manifests/sha256:7b0b1d4b6f1f8c9a3b2e3f0a8d7c6b5a4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b',
      tag: 'v1.4.2',
    });
    assert.deepEqual(push['actor'], { name: 'octocat' });
    assert.deepEqual(push['request'], { host: 'ghcr.io' });
    // GitHub's own example sends Go's zero time for the version: not a time at all.
    const zero = structuredClone(fixture('github/registry-package-published.json')) as {
      registry_package: Record<string, unknown> & { package_version: Record<string, unknown> };
    };
    zero.registry_package.package_version['updated_at'] = '0001-01-01T00:00:00Z';
    zero.registry_package.package_version['created_at'] = '0001-01-01T00:00:00Z';
    const [fromPackage] = events(run('github', zero, headers));
    assert.equal(fromPackage?.['timestamp'], '2025-11-20T08:15:31.000Z');
    delete zero.registry_package['updated_at'];
    const [received] = events(run('github', zero, headers));
    assert.equal(received?.['timestamp'], new Date(RECEIVED).toISOString());
    assert.deepEqual(
      run('github', fixture('github/package-npm.json'), { 'x-github-event': 'package' }),
      { kind: 'ignored', type: 'package:npm' },
    );
    assert.deepEqual(
      run('github', { zen: 'Keep it logically awesome.' }, { 'x-github-event': 'ping' }),
      {
        kind: 'ignored',
        type: 'ping',
      },
    );
  });

  it('zot: binary and structured CloudEvents; unknown types ignored', () => {
    const updated = fixture('zot/image-updated-binary.json') as {
      headers: IncomingHttpHeaders;
      body: unknown;
    };
    const [push] = events(run('zot', updated.body, updated.headers));
    assert.equal(push?.['id'], 'zot-5f0f7a8c-2c1e-4f0a-9a0c-1b9e8d7c6b5a');
    assert.equal(push['action'], 'push');
    assert.equal(push['timestamp'], '2025-09-01T12:00:00.000Z');
    assert.deepEqual(target(push), {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:1f1e0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7',
      repository: 'team/api',
      tag: '1.0.3',
    });
    const deleted = fixture('zot/image-deleted-structured.json') as {
      headers: IncomingHttpHeaders;
      body: unknown;
    };
    const [del] = events(run('zot', deleted.body, deleted.headers));
    assert.equal(del?.['action'], 'delete');
    assert.equal(target(del)['tag'], undefined, 'deleted by digest');
    assert.deepEqual(
      run('zot', { name: 'a' }, { 'ce-type': 'zotregistry.image.signed', 'ce-id': 'x' }),
      {
        kind: 'ignored',
        type: 'zotregistry.image.signed',
      },
    );
  });

  it('artifactory: docker pushes with digest, size and media type; other domains ignored', () => {
    const [push] = events(run('artifactory', fixture('artifactory/docker-pushed.json')));
    assert.equal(push?.['action'], 'push');
    assert.deepEqual(target(push), {
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      size: 1206,
      length: 1206,
      digest: 'sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce',
      repository: 'library/ubuntu',
      tag: 'latest',
      repoKey: 'docker-remote-cache',
    });
    assert.deepEqual(push['request'], { host: 'acme.jfrog.io' });
    assert.deepEqual(push['actor'], { name: 'jfrog/admin' });
    assert.deepEqual(run('artifactory', fixture('artifactory/artifact-deployed.json')), {
      kind: 'ignored',
      type: 'artifact.deployed',
    });
  });

  it('arbitrary JSON never crashes an adapter: events, ignored, or a SourceBodyError', () => {
    const headerSets: IncomingHttpHeaders[] = [
      {},
      { 'x-github-event': 'registry_package' },
      { 'x-github-event': 'package' },
      { 'ce-type': 'zotregistry.image.updated', 'ce-id': 'x' },
      { 'ce-type': 'zotregistry.image.updated' },
    ];
    for (const type of SOURCE_TYPES) {
      fc.assert(
        fc.property(fc.jsonValue(), fc.constantFrom(...headerSets), (body, headers) => {
          try {
            const out = run(type, body, headers);
            assert.ok(['events', 'ignored'].includes(out.kind));
          } catch (err) {
            assert.ok(err instanceof SourceBodyError, `${type}: ${String(err)}`);
          }
        }),
        { numRuns: 300 },
      );
      // Near-misses of the real payloads: each documented field replaced by arbitrary JSON.
      // Every fixture of the sender, each kind of event it sends (the body of those that
      // hold headers too), and for Quay every event a URL may declare.
      const samples = fixtureRequests(type);
      const declared = type === 'quay' ? [undefined, ...QUAY_EVENTS, 'nonsense'] : [undefined];
      fc.assert(
        fc.property(
          fc.constantFrom(...samples),
          fc.constantFrom(...declared),
          fc.jsonValue(),
          fc.nat(),
          ({ headers, body: sample }, event, value, pick) => {
            const { body, key } = nearMiss(sample, value, pick);
            try {
              const out = ADAPTERS[type]({
                headers,
                body,
                receivedAt: RECEIVED,
                declared: event,
              });
              assert.ok(['events', 'ignored'].includes(out.kind));
            } catch (err) {
              assert.ok(err instanceof SourceBodyError, `${type}.${key}: ${String(err)}`);
            }
          },
        ),
        { numRuns: 300 },
      );
    }
  });
});

describe('source verification', () => {
  const raw = Buffer.from('{"action":"published"}');

  it('a header value, compared in constant time', () => {
    const auth = { kind: 'header', header: 'X-JFrog-Event-Auth', value: 's3cret' } as const;
    verify(auth, { 'x-jfrog-event-auth': 's3cret' }, raw, undefined);
    assert.throws(() => {
      verify(auth, {}, raw, undefined);
    }, /missing X-JFrog-Event-Auth/);
    assert.throws(
      () => {
        verify(auth, { 'x-jfrog-event-auth': 's3cre' }, raw, undefined);
      },
      (err: unknown) => err instanceof VerifyError && /wrong/.test(err.message),
    );
  });

  it('GitHub: HMAC-SHA256 of the raw body; a tampered body or wrong secret is refused', () => {
    const auth = { kind: 'hmac', secret: "It's a Secret to Everybody" } as const;
    const sign = (body: Buffer, secret: string = auth.secret) =>
      `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    // GitHub's documented test vector.
    const hello = Buffer.from('Hello, World!');
    assert.equal(
      sign(hello),
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    );
    verify(auth, { 'x-hub-signature-256': sign(hello) }, hello, undefined);
    assert.throws(() => {
      verify(auth, { 'x-hub-signature-256': sign(hello) }, Buffer.from('Hello, World?'), undefined);
    }, /does not match/);
    assert.throws(() => {
      verify(auth, { 'x-hub-signature-256': sign(hello, 'wrong') }, hello, undefined);
    }, /does not match/);
    assert.throws(() => {
      verify(auth, {}, hello, undefined);
    }, /missing X-Hub-Signature-256/);
  });

  it('a secret path segment', () => {
    const auth = { kind: 'path', secret: 'a-long-secret-segment-0123' } as const;
    verify(auth, {}, raw, 'a-long-secret-segment-0123');
    assert.throws(() => {
      verify(auth, {}, raw, undefined);
    }, /missing the secret path segment/);
    assert.throws(() => {
      verify(auth, {}, raw, 'a-long-secret-segment-0124');
    }, /wrong secret/);
  });
});

describe('sources through a running relay', () => {
  const HARBOR = 'harbor-auth-header-value';
  const GITHUB = 'github-webhook-secret';
  const PATH_SECRET = 'path-secret-0123456789abcdef';
  const ARTIFACTORY = 'jfrog-secret-token';
  const ZOT = `Basic ${Buffer.from('zot:zot-password').toString('base64')}`;
  const GITLAB = 'Bearer gitlab-notifications-token';
  const DIST = 'Bearer distribution-token';
  const SOURCES = [
    { name: 'harbor-prod', type: 'harbor', auth: { value: HARBOR } },
    { name: 'quay-prod', type: 'quay', auth: { pathSecret: PATH_SECRET } },
    { name: 'hub', type: 'dockerhub', auth: { pathSecret: PATH_SECRET } },
    { name: 'gitlab', type: 'gitlab', auth: { value: GITLAB } },
    { name: 'ghcr', type: 'github', auth: { secret: GITHUB } },
    { name: 'zot', type: 'zot', path: '/hooks/zot', auth: { value: ZOT } },
    { name: 'jfrog', type: 'artifactory', auth: { value: ARTIFACTORY } },
    { name: 'dist3', type: 'distribution', auth: { header: 'X-Token', value: DIST } },
  ];

  /** Each source's documented payload, and how its sender posts it (path, headers). */
  const posts: {
    source: string;
    path: string;
    body: unknown;
    headers: Record<string, string>;
    events: number;
  }[] = (() => {
    const gh = fixture('github/registry-package-published.json');
    const ghSig = `sha256=${createHmac('sha256', GITHUB).update(JSON.stringify(gh)).digest('hex')}`;
    const zot = fixture('zot/image-updated-binary.json') as {
      headers: Record<string, string>;
      body: unknown;
    };
    return [
      {
        source: 'harbor-prod',
        path: '/sources/harbor-prod',
        body: fixture('harbor/push-default.json'),
        headers: { authorization: HARBOR },
        events: 1,
      },
      {
        source: 'quay-prod',
        path: `/sources/quay-prod/${PATH_SECRET}`,
        body: fixture('quay/repo-push.json'),
        headers: {},
        events: 2,
      },
      {
        source: 'hub',
        path: `/sources/hub/${PATH_SECRET}`,
        body: fixture('dockerhub/push.json'),
        headers: {},
        events: 1,
      },
      {
        source: 'gitlab',
        path: '/sources/gitlab',
        body: fixture('gitlab/push-and-rename.json'),
        headers: { authorization: GITLAB },
        events: 2,
      },
      {
        source: 'ghcr',
        path: '/sources/ghcr',
        body: gh,
        headers: {
          'x-github-event': 'registry_package',
          'x-github-delivery': 'delivery-1',
          'x-hub-signature-256': ghSig,
        },
        events: 1,
      },
      {
        source: 'zot',
        path: '/hooks/zot',
        body: zot.body,
        headers: { ...zot.headers, authorization: ZOT },
        events: 1,
      },
      {
        source: 'jfrog',
        path: '/sources/jfrog',
        body: fixture('artifactory/docker-pushed.json'),
        headers: { 'x-jfrog-event-auth': ARTIFACTORY },
        events: 1,
      },
      {
        source: 'dist3',
        path: '/sources/dist3',
        body: fixture('distribution/v3-push.json'),
        headers: {
          'x-token': DIST,
          'content-type': 'application/vnd.docker.distribution.events.v2+json',
        },
        events: 1,
      },
    ];
  })();

  const total = posts.reduce((n, p) => n + p.events, 0);

  it('every sender reaches an envelope receiver and a CloudEvents receiver; filters select by source, repository and tag', async () => {
    const envelopeRx = await scope.receiver();
    const ceRx = await scope.receiver();
    const tagged = await scope.receiver();
    const relay = await scope.relay(
      [
        { name: 'all', url: envelopeRx.url },
        { name: 'ce', url: ceRx.url, format: { type: 'cloudevents', mode: 'structured' } },
        {
          name: 'library-latest',
          url: tagged.url,
          filter: { sources: ['harbor-*', 'jfrog'], repositories: ['library/*'], tags: ['latest'] },
        },
      ],
      { sources: SOURCES },
    );
    const send = (p: (typeof posts)[number]) =>
      fetch(`${relay.ingestUrl}${p.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...p.headers },
        body: JSON.stringify(p.body),
      });
    for (const p of posts) {
      const res = await send(p);
      const answer = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 202, `${p.source}: ${JSON.stringify(answer)}`);
      assert.equal(answer['accepted'], p.events, p.source);
    }
    await envelopeRx.waitFor(total);
    await ceRx.waitFor(total);
    const got = envelopeRx.events();
    for (const p of posts) {
      const mine = got.filter(
        (e) => (e['relay'] as Record<string, unknown>)['source'] === p.source,
      );
      assert.equal(mine.length, p.events, p.source);
      for (const e of mine) {
        const relayField = e['relay'] as Record<string, unknown>;
        const type = SOURCES.find((s) => s.name === p.source)?.type;
        assert.equal(relayField['type'], type);
        if (type !== 'gitlab' && type !== 'distribution') {
          assert.deepEqual(
            relayField['original'],
            p.body,
            `${p.source}: the original body is kept`,
          );
        }
        assert.ok(typeof e['id'] === 'string' && typeof e['timestamp'] === 'string');
      }
    }
    const ce = ceRx.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    assert.equal(ce.length, total);
    const harborCe = ce.find((c) => JSON.stringify(c['subject'] ?? '').includes('library/busybox'));
    assert.ok(harborCe, JSON.stringify(ce[0]));
    // Harbor's busybox:latest push and Artifactory's library/ubuntu:latest only.
    await tagged.waitFor(2);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      tagged
        .events()
        .map(
          (e) =>
            `${String((e['relay'] as Record<string, unknown>)['source'])} ${String((e['target'] as Record<string, unknown>)['repository'])}`,
        )
        .sort(),
      ['harbor-prod library/busybox', 'jfrog library/ubuntu'],
    );

    // Distribution 3's envelope is also taken as it is on /events (source "events").
    const v3 = await fetch(`${relay.ingestUrl}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json' },
      // Another id: the dist3 source posted this very event already, a re-send would be dropped.
      body: JSON.stringify(fixture('distribution/v3-push.json')).replace(
        '320678d8-ca14-430f-8bb6-4ca139cd83f7',
        'direct-v3-event',
      ),
    });
    assert.deepEqual(await v3.json(), { accepted: 1, duplicates: 0 });
    await envelopeRx.waitFor(total + 1);
    const direct = envelopeRx.events().find((e) => e['relay'] === undefined);
    assert.equal(target(direct)['artifactType'], 'application/vnd.example.sbom.v1+json');

    // A re-send of the same body is acknowledged, not delivered again.
    const again = await send(posts[0] as (typeof posts)[number]);
    assert.deepEqual(await again.json(), { accepted: 0, duplicates: 1 });

    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    assert.match(
      metrics,
      /relay_source_events_total\{source="harbor-prod",type="harbor",result="accepted"\} 1/,
    );
    assert.match(
      metrics,
      /relay_source_events_total\{source="harbor-prod",type="harbor",result="duplicate"\} 1/,
    );
    assert.match(
      metrics,
      /relay_source_events_total\{source="quay-prod",type="quay",result="accepted"\} 2/,
    );
  });

  it('refuses what fails verification (401) or is malformed (400), ignores unmapped types (202)', async () => {
    const rx = await scope.receiver();
    const relay = await scope.relay([{ name: 'all', url: rx.url }], {
      sources: SOURCES,
      http: { auth: { tokens: ['ingest-token'] } },
    });
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${relay.ingestUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const gh = JSON.stringify(fixture('github/registry-package-published.json'));
    const sign = (body: string, secret = GITHUB) =>
      `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const ghHeaders = { 'x-github-event': 'registry_package' };
    const cases: [string, Promise<Response>, number, RegExp][] = [
      [
        'github, no signature',
        post('/sources/ghcr', gh, ghHeaders),
        401,
        /missing X-Hub-Signature-256/,
      ],
      [
        'github, tampered body',
        post('/sources/ghcr', gh.replace('v1.4.2', 'v9.9.9'), {
          ...ghHeaders,
          'x-hub-signature-256': sign(gh),
        }),
        401,
        /does not match/,
      ],
      [
        'github, wrong secret',
        post('/sources/ghcr', gh, { ...ghHeaders, 'x-hub-signature-256': sign(gh, 'nope') }),
        401,
        /does not match/,
      ],
      ['harbor, no header', post('/sources/harbor-prod', '{}'), 401, /missing Authorization/],
      [
        'harbor, wrong value',
        post('/sources/harbor-prod', '{}', { authorization: 'nope' }),
        401,
        /wrong Authorization/,
      ],
      [
        'quay, no secret segment',
        post('/sources/quay-prod', '{}'),
        401,
        /missing the secret path segment/,
      ],
      [
        'quay, wrong segment',
        post('/sources/quay-prod/wrong-secret-0123456789', '{}'),
        401,
        /wrong secret path segment/,
      ],
      [
        'artifactory, wrong token',
        post('/sources/jfrog', '{}', { 'x-jfrog-event-auth': 'x' }),
        401,
        /wrong X-JFrog-Event-Auth/,
      ],
      [
        'harbor, not JSON',
        post('/sources/harbor-prod', '{', { authorization: HARBOR }),
        400,
        /not valid JSON/,
      ],
      [
        'harbor, no event_data',
        post('/sources/harbor-prod', '{"type":"PUSH_ARTIFACT"}', { authorization: HARBOR }),
        400,
        /event_data: expected an object/,
      ],
      [
        'gitlab, event without id',
        post('/sources/gitlab', '{"events":[{"action":"push","target":{}}]}', {
          authorization: GITLAB,
        }),
        400,
        /events\[0\]\.id/,
      ],
    ];
    for (const [what, res, status, message] of cases) {
      const r = await res;
      const body = (await r.json()) as Record<string, unknown>;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(body)}`);
      assert.match(String(body['message']), message, what);
    }
    // Harbor 2.7's chart uploads (ChartMuseum): a real type the relay does not map.
    const chart = await post(
      '/sources/harbor-prod',
      JSON.stringify({ type: 'UPLOAD_CHART', occur_at: 1680502000, event_data: {} }),
      { authorization: HARBOR },
    );
    assert.equal(chart.status, 202);
    assert.deepEqual(await chart.json(), {
      accepted: 0,
      duplicates: 0,
      ignored: 'UPLOAD_CHART',
    });
    const ping = await post('/sources/ghcr', '{"zen":"hi"}', {
      'x-github-event': 'ping',
      'x-hub-signature-256': sign('{"zen":"hi"}'),
    });
    assert.equal(ping.status, 202);
    // Ingest tokens guard /events only; the sources verify their own senders.
    assert.equal((await post('/events', '{"events":[]}')).status, 401);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(rx.requests.length, 0, 'nothing refused or ignored was delivered');
    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    assert.match(
      metrics,
      /relay_source_events_total\{source="ghcr",type="github",result="unauthorized"\} 3/,
    );
    assert.match(
      metrics,
      /relay_source_events_total\{source="harbor-prod",type="harbor",result="ignored"\} 1/,
    );
    assert.match(
      metrics,
      /relay_source_events_total\{source="harbor-prod",type="harbor",result="rejected"\} 2/,
    );
    assert.equal(
      relay.lines.filter((l) => l.includes('source event type not mapped')).length,
      2,
      'logged once per source and type',
    );
  });
});

describe('sources config', () => {
  const endpoints = [{ name: 'a', url: 'http://127.0.0.1:9/' }];
  const problems = (sources: unknown[]): string => {
    try {
      parseConfig(stringify({ sources, notifications: { endpoints } }), 'test.yaml', {});
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    return '';
  };

  it('names what is wrong: no auth, GitHub without its secret, a short path secret, an unknown type', () => {
    const text = problems([
      { name: 'h', type: 'harbor' },
      { name: 'g', type: 'github', auth: { value: 'x' } },
      { name: 'q', type: 'quay', auth: { pathSecret: 'short' } },
      { name: 'z', type: 'nope', auth: { none: true } },
      { name: 'a', type: 'harbor', auth: { value: 'x', secret: 'y' } },
    ]);
    assert.match(text, /sources\[0\]\.auth: required: how the sender is verified/);
    assert.match(text, /sources\[1\]\.auth: GitHub signs every delivery: set auth\.secret/);
    assert.match(text, /sources\[2\]\.auth\.pathSecret: at least 16 URL-safe characters/);
    assert.match(text, /sources\[3\]\.type: expected one of harbor, quay/);
    assert.match(text, /sources\[4\]\.auth: one way to verify: value and secret are both set/);
    assert.ok(!text.includes('short'), 'secrets are not echoed');
  });

  it('refuses a duplicate name or path and the /events path; defaults the path', () => {
    const text = problems([
      { name: 'h', type: 'harbor', auth: { value: 'x' } },
      { name: 'h', type: 'quay', path: '/q', auth: { value: 'x' } },
      { name: 'z', type: 'zot', path: '/q', auth: { value: 'x' } },
      { name: 'e', type: 'distribution', path: '/events', auth: { value: 'x' } },
    ]);
    assert.match(text, /sources\[1\]\.name: duplicate source name \(also sources\[0\]\)/);
    assert.match(text, /sources\[2\]\.path: duplicate path \/q \(also sources\[1\]\)/);
    assert.match(text, /sources\[3\]\.path: \/events is the registry envelope route/);
    const config = parseConfig(
      stringify({
        sources: [{ name: 'jfrog', type: 'artifactory', auth: { value: 't' } }],
        notifications: { endpoints },
      }),
      'test.yaml',
      {},
    );
    assert.deepEqual(config.sources[0], {
      name: 'jfrog',
      type: 'artifactory',
      path: '/sources/jfrog',
      registry: undefined,
      auth: { kind: 'header', header: 'X-JFrog-Event-Auth', value: 't' },
    });
  });
});
