// Registry-aware events against real docker-registry processes (basic auth, and token
// auth with a token server of the test's), images pushed with skopeo.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startReceiver, startTestRelay, waitUntil, type Receiver } from '../support/helpers.ts';
import { Layout, skopeoBinary, skopeoPush } from '../support/oci.ts';
import { registryBinary, startRegistry } from '../support/registry-process.ts';
import { startTokenServer } from '../support/token-server.ts';
import { assertValidEnvelope } from '../support/schema.ts';

type Ev = {
  id: string;
  action: string;
  target: { repository?: string; tag?: string; digest?: string; mediaType?: string };
  relay?: { image?: Record<string, unknown> };
};

const bin = registryBinary();
const skopeo = skopeoBinary();
const skip =
  (bin === undefined || skopeo === undefined) && process.env['CI'] !== 'true'
    ? 'docker-registry or skopeo not installed (apt-get install docker-registry skopeo)'
    : false;

const USER = 'relay';
const PASSWORD = 'registry-secret-9f3a';

/** Images written once: a two-platform index, an image with labels, a signature of it. */
function layouts() {
  const dir = mkdtempSync(join(tmpdir(), 'relay-oci-'));
  const layout = new Layout(dir);
  const amd64 = layout.image({ os: 'linux', architecture: 'amd64', seed: 'multi-amd64' });
  const arm64 = layout.image({
    os: 'linux',
    architecture: 'arm64',
    variant: 'v8',
    seed: 'multi-arm64',
  });
  const index = layout.index([amd64, arm64]);
  layout.ref(index, 'multi');
  const app = layout.image({
    os: 'linux',
    architecture: 'amd64',
    seed: 'app-v1',
    labels: {
      'org.opencontainers.image.source': 'https://git.example.com/team/app',
      team: 'payments',
    },
    annotations: { 'org.opencontainers.image.title': 'app' },
  });
  layout.ref(app, 'app');
  const plain = layout.image({
    os: 'linux',
    architecture: 'amd64',
    seed: 'app-v2',
    labels: { team: 'search' },
  });
  layout.ref(plain, 'plain');
  const sig = layout.signature(app.digest);
  layout.ref(sig, 'sig');
  return { dir, amd64, arm64, index, app, plain, sig };
}

const manifests = (rx: Receiver): Ev[] =>
  (rx.events() as Ev[]).filter(
    (e) => e.target.mediaType?.includes('manifest') || e.target.mediaType?.includes('index'),
  );

const metric = async (debugUrl: string, name: string, labels: string): Promise<number> => {
  const text = await (await fetch(`${debugUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (labels.split(',').every((l) => line.includes(l))) sum += Number(line.split(' ').pop());
  }
  return sum;
};

describe('registry-aware events (Distribution 2.8.2, skopeo pushes)', { skip }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  let images: ReturnType<typeof layouts>;
  before(() => {
    images = layouts();
  });

  it('basic auth: facts on every manifest event; platform and signed filters select exactly the right ones; each digest read once', async () => {
    assert.ok(bin && skopeo);
    const rx: Record<string, Receiver> = {};
    for (const name of ['all', 'arm', 'signed', 'unsigned', 'slack', 'plain']) {
      rx[name] = await startReceiver();
      const r = rx[name];
      cleanups.push(() => r.close());
    }
    // The relay's registry entry is filled in once the registry's port is known.
    const { freePort } = await import('../support/registry-process.ts');
    const port = await freePort();
    const relay = await startTestRelay(
      [
        { name: 'all', url: rx['all']?.url, enrich: true },
        { name: 'arm', url: rx['arm']?.url, filter: { platforms: ['linux/arm64'] } },
        { name: 'signed', url: rx['signed']?.url, filter: { signed: true } },
        {
          name: 'unsigned',
          url: rx['unsigned']?.url,
          filter: { targets: 'manifest', signed: false },
          concurrency: 4,
        },
        {
          name: 'slack',
          url: rx['slack']?.url,
          format: 'slack',
          enrich: ['platforms', 'referrers'],
          filter: { targets: 'manifest' },
        },
        { name: 'plain', url: rx['plain']?.url },
      ],
      {
        registries: [
          {
            name: 'local',
            url: `http://127.0.0.1:${String(port)}`,
            auth: { username: USER, password: '${REGISTRY_PASSWORD}' },
          },
        ],
      },
      { env: { REGISTRY_PASSWORD: PASSWORD } },
    );
    cleanups.push(() => relay.stop());
    const registry = await startRegistry(
      bin,
      [
        {
          name: 'relay',
          url: `${relay.ingestUrl}/events`,
          timeout: '2s',
          threshold: 3,
          backoff: '100ms',
        },
      ],
      {
        auth: { htpasswd: { username: USER, password: PASSWORD } },
        port,
      },
    );
    cleanups.push(() => registry.stop());
    const host = `127.0.0.1:${String(port)}`;
    const creds = `${USER}:${PASSWORD}`;
    // The signature first (a tag like any other), so the image is signed when its event comes.
    await skopeoPush(
      images.dir,
      'sig',
      `${host}/team/app:${images.app.digest.replace(':', '-')}.sig`,
      creds,
    );
    await skopeoPush(images.dir, 'app', `${host}/team/app:v1`, creds);
    await skopeoPush(images.dir, 'plain', `${host}/team/app:v2`, creds);
    await skopeoPush(images.dir, 'multi', `${host}/team/multi:v1`, creds);

    // Manifest pushes: signature, app, plain, amd64 + arm64 (by digest), the index.
    await waitUntil(
      () => manifests(rx['all'] as Receiver).filter((e) => e.action === 'push').length >= 6,
      30_000,
      'six manifest pushes',
    );
    assertValidEnvelope({ events: (rx['all'] as Receiver).events() }, 'delivered with every fact');
    const pushes = manifests(rx['all'] as Receiver).filter((e) => e.action === 'push');
    const byDigest = new Map(pushes.map((e) => [e.target.digest, e.relay?.image]));
    const app = byDigest.get(images.app.digest) ?? {};
    assert.equal(app['registry'], 'local');
    assert.equal(app['mediaType'], 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(app['size'], images.app.configSize + images.app.layers);
    assert.deepEqual(app['platforms'], [{ os: 'linux', architecture: 'amd64' }]);
    assert.equal(app['created'], '2026-11-30T12:00:00Z');
    assert.deepEqual(app['labels'], {
      'org.opencontainers.image.source': 'https://git.example.com/team/app',
      team: 'payments',
    });
    assert.deepEqual(app['annotations'], { 'org.opencontainers.image.title': 'app' });
    assert.equal(app['signed'], true);
    assert.deepEqual(app['signatures'], [
      { format: 'cosign', digest: images.sig.digest, via: 'tag' },
    ]);
    const index = byDigest.get(images.index.digest) ?? {};
    assert.equal(index['mediaType'], 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index['platforms'], [
      { os: 'linux', architecture: 'amd64', digest: images.amd64.digest },
      { os: 'linux', architecture: 'arm64', variant: 'v8', digest: images.arm64.digest },
    ]);
    assert.equal(
      index['size'],
      images.amd64.configSize + images.amd64.layers + images.arm64.configSize + images.arm64.layers,
    );
    assert.equal(index['signed'], false);
    // The signature names what it signs.
    const sig = byDigest.get(images.sig.digest) ?? {};
    assert.equal(sig['subject'], images.app.digest);
    assert.equal(sig['refers'], 'signature');
    assert.equal((byDigest.get(images.plain.digest) ?? {})['signed'], false);

    // filter.platforms: the index and its arm64 image; filter.signed: the app image only.
    await waitUntil(() => (rx['arm'] as Receiver).events().length >= 2, 10_000, 'arm events');
    await waitUntil(() => (rx['signed'] as Receiver).events().length >= 1, 10_000, 'signed events');
    await waitUntil(
      async () => (await relay.endpointVars('plain')).Metrics.Pending === 0,
      10_000,
      'plain drained',
    );
    const pendingAll = async () =>
      (
        await Promise.all(['arm', 'signed', 'unsigned', 'slack'].map((n) => relay.endpointVars(n)))
      ).every((v) => v.Metrics.Pending === 0);
    await waitUntil(pendingAll, 10_000, 'every endpoint drained');
    assert.deepEqual(
      (rx['arm'] as Receiver)
        .events()
        .map((e) => (e as Ev).target.digest)
        .sort(),
      [images.index.digest, images.arm64.digest].sort(),
    );
    assert.deepEqual(
      (rx['signed'] as Receiver).events().map((e) => (e as Ev).target.digest),
      [images.app.digest],
    );
    assert.deepEqual(
      (rx['unsigned'] as Receiver)
        .events()
        .map((e) => (e as Ev).target.digest)
        .filter((d) => d !== undefined)
        .sort(),
      [
        images.sig.digest,
        images.plain.digest,
        images.amd64.digest,
        images.arm64.digest,
        images.index.digest,
      ].sort(),
    );
    // What a fact filter refused is counted as filtered, never silently gone.
    const signedVars = await relay.endpointVars('signed');
    assert.equal(signedVars.Metrics.Pending, 0);
    assert.ok(
      (await metric(relay.debugUrl, 'relay_filtered_events_total', 'endpoint="signed"')) >= 5,
      'the refused manifest events are counted as filtered',
    );
    // The Slack message says the platforms and whether it is signed.
    const texts = (rx['slack'] as Receiver).requests.map(
      (r) => (JSON.parse(r.body) as { text: string }).text,
    );
    assert.ok(
      texts.some(
        (t) =>
          t.includes('team/multi:v1') &&
          t.includes('linux/amd64, linux/arm64/v8') &&
          t.includes('*unsigned*'),
      ),
      texts.join('\n'),
    );
    assert.ok(
      texts.some((t) => t.includes('team/app:v1') && t.includes('· signed')),
      texts.join('\n'),
    );
    // An endpoint that asks for nothing gets the registry's events unchanged.
    assert.ok((rx['plain'] as Receiver).events().every((e) => (e as Ev).relay === undefined));

    // Each digest's manifest read once, however many endpoints wanted it.
    const manifestReads = await metric(
      relay.debugUrl,
      'relay_registry_requests_total',
      'kind="manifest",status="200"',
    );
    assert.equal(manifestReads, 6, 'one manifest GET per pushed manifest digest');
    const blobReads = await metric(
      relay.debugUrl,
      'relay_registry_requests_total',
      'kind="blob",status="200"',
    );
    assert.equal(blobReads, 5, 'one config GET per image (signature, app, plain, amd64, arm64)');
    assert.ok((await metric(relay.debugUrl, 'relay_registry_cache_total', 'result="hit"')) > 0);

    const state = (await (await fetch(`${relay.debugUrl}/api/v1/registries`)).json()) as {
      registries: Record<string, unknown>[];
    };
    assert.equal(state.registries[0]?.['state'], 'ok');
    assert.equal(state.registries[0]['auth'], 'basic');
    // The password is nowhere: vars, metrics, the registries API, the log.
    for (const text of [
      JSON.stringify(await relay.vars()),
      await (await fetch(`${relay.debugUrl}/metrics`)).text(),
      JSON.stringify(state),
      relay.lines.join('\n'),
    ]) {
      assert.ok(!text.includes(PASSWORD));
    }
  });

  it('token auth: the relay signs in through the realm the registry names and keeps the token per scope', async () => {
    assert.ok(bin && skopeo);
    const dir = mkdtempSync(join(tmpdir(), 'relay-token-'));
    const tokens = await startTokenServer(dir, { [USER]: PASSWORD, pusher: 'push-pass' });
    cleanups.push(() => tokens.close());
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const { freePort } = await import('../support/registry-process.ts');
    const port = await freePort();
    const relay = await startTestRelay(
      [
        {
          name: 'all',
          url: rx.url,
          enrich: { facts: ['platforms', 'labels', 'size', 'referrers'] },
          filter: { targets: 'manifest' },
        },
      ],
      {
        registries: [
          {
            name: 'tokened',
            url: `http://127.0.0.1:${String(port)}`,
            auth: { username: USER, password: PASSWORD },
          },
        ],
      },
    );
    cleanups.push(() => relay.stop());
    const registry = await startRegistry(
      bin,
      [
        {
          name: 'relay',
          url: `${relay.ingestUrl}/events`,
          timeout: '2s',
          threshold: 3,
          backoff: '100ms',
        },
      ],
      {
        auth: { token: tokens },
        port,
      },
    );
    cleanups.push(() => registry.stop());
    await skopeoPush(
      images.dir,
      'multi',
      `127.0.0.1:${String(port)}/team/tokened:v1`,
      'pusher:push-pass',
    );
    await waitUntil(
      () => manifests(rx).filter((e) => e.action === 'push').length >= 3,
      30_000,
      'three manifest pushes',
    );
    await waitUntil(
      async () => (await relay.endpointVars('all')).Metrics.Pending === 0,
      10_000,
      'drained',
    );
    const index = manifests(rx).find((e) => e.target.digest === images.index.digest);
    assert.equal((index?.relay?.image?.['platforms'] as unknown[] | undefined)?.length, 2);
    assert.equal(index?.relay?.image?.['signed'], false);
    const relayTokens = tokens.requests.filter((r) => r.user === USER);
    assert.ok(relayTokens.length >= 1, 'the relay asked the realm for a token');
    // One scope (repository:team/tokened:pull): asked once, then kept until it expires.
    assert.equal(relayTokens.length, 1, JSON.stringify(relayTokens));
    assert.deepEqual(relayTokens[0]?.scopes, ['repository:team/tokened:pull']);
  });

  it('Quay and Docker Hub payloads: a re-push of a tag is a new event with its digest, a re-send is one', async () => {
    assert.ok(bin && skopeo);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const registry = await startRegistry(bin, []);
    cleanups.push(() => registry.stop());
    const host = `127.0.0.1:${String(registry.port)}`;
    const relay = await startTestRelay([{ name: 'all', url: rx.url, enrich: ['size'] }], {
      registries: [
        { name: 'local', url: registry.base, hosts: [host], reconcile: { interval: '1h' } },
      ],
      http: { debug: { auth: { tokens: ['admin-token'] } } },
      sources: [
        { name: 'quay', type: 'quay', auth: { none: true } },
        { name: 'hub', type: 'dockerhub', auth: { none: true }, registry: 'local' },
      ],
    });
    cleanups.push(() => relay.stop());
    const quay = JSON.stringify({
      repository: 'team/app',
      docker_url: `${host}/team/app`,
      updated_tags: ['latest'],
    });
    const post = (path: string, body: string) =>
      fetch(`${relay.ingestUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    await skopeoPush(images.dir, 'app', `${host}/team/app:latest`);
    assert.equal((await post('/sources/quay', quay)).status, 202);
    await rx.waitFor(1, 10_000);
    // A re-send of the same body (the same content): one event.
    assert.equal((await post('/sources/quay', quay)).status, 202);
    await waitUntil(
      async () => (await relay.endpointVars('all')).Metrics.Pending === 0,
      10_000,
      'drained',
    );
    await skopeoPush(images.dir, 'plain', `${host}/team/app:latest`);
    assert.equal((await post('/sources/quay', quay)).status, 202);
    await rx.waitFor(2, 10_000);
    await waitUntil(
      async () => (await relay.endpointVars('all')).Metrics.Pending === 0,
      10_000,
      'drained',
    );
    const got = rx.events() as Ev[];
    assert.deepEqual(
      got.map((e) => e.target.digest),
      [images.app.digest, images.plain.digest],
    );
    assert.notEqual(got[0]?.id, got[1]?.id);
    assert.match(got[0]?.id ?? '', /^quay-[A-Za-z0-9_-]{32}$/);
    assert.equal(got[0]?.relay?.image?.['resolved'], true);
    assert.equal(got[0].target.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(
      await metric(relay.debugUrl, 'relay_resolved_duplicates_total', 'endpoint="all"'),
      1,
    );

    // Docker Hub names no host the relay knows: the source's `registry` selects it.
    const hub = (pushedAt: number) =>
      JSON.stringify({
        push_data: { tag: 'latest', pushed_at: pushedAt, pusher: 'alice' },
        repository: { repo_name: 'team/app', name: 'app', namespace: 'team' },
      });
    assert.equal((await post('/sources/hub', hub(1_764_590_000))).status, 202);
    await rx.waitFor(3, 10_000);
    const fromHub = (rx.events() as Ev[])[2];
    assert.equal(fromHub?.target.digest, images.plain.digest);
    assert.match(fromHub.id, /^dockerhub-/);
    // What the tags were resolved to is known to reconciliation: a walk reports nothing more.
    const walk = await fetch(`${relay.debugUrl}/api/v1/registries/local/reconcile`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-token' },
    });
    const pass = (await walk.json()) as { result: string; pushes: number; tags: number };
    assert.deepEqual([pass.result, pass.pushes, pass.tags], ['complete', 0, 1]);
  });

  it('registry down: events go on within the wait, marked and counted; back: facts again; wrong credentials: a clear state, no secret', async () => {
    assert.ok(bin && skopeo);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    let registry = await startRegistry(bin, []);
    const host = `127.0.0.1:${String(registry.port)}`;
    await skopeoPush(images.dir, 'app', `${host}/team/app:v1`);
    const relay = await startTestRelay(
      [{ name: 'all', url: rx.url, enrich: { facts: ['all'], wait: '2s' } }],
      {
        registries: [{ name: 'local', url: registry.base, timeout: '1s' }],
        sources: [{ name: 'quay', type: 'quay', auth: { none: true } }],
      },
    );
    cleanups.push(() => relay.stop());
    const distribution = (digest: string, tag: string, h = host) =>
      JSON.stringify({
        events: [
          {
            id: `ev-${digest.slice(7, 19)}-${tag}-${h}`,
            timestamp: '2026-12-01T10:00:00Z',
            action: 'push',
            target: {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest,
              repository: 'team/app',
              tag,
              url: `http://${h}/v2/team/app/manifests/${digest}`,
            },
            request: { host: h },
          },
        ],
      });
    await registry.stop();
    assert.equal((await relay.post(distribution(images.app.digest, 'v1'))).status, 202);
    await rx.waitFor(1, 15_000);
    const down = (rx.events() as Ev[])[0];
    assert.ok(
      ['unreachable', 'timeout'].includes(String(down?.relay?.image?.['unavailable'])),
      JSON.stringify(down),
    );
    assert.ok(
      (await metric(relay.debugUrl, 'relay_registry_requests_total', 'registry="local"')) >= 1,
    );
    let state = (await (await fetch(`${relay.debugUrl}/api/v1/registries`)).json()) as {
      registries: { name: string; state: string; lastError?: { reason: string } }[];
    };
    assert.equal(state.registries.find((r) => r.name === 'local')?.state, 'failing');

    registry = await startRegistry(bin, [], { dir: registry.dir, port: registry.port });
    cleanups.push(() => registry.stop());
    assert.equal((await relay.post(distribution(images.app.digest, 'again'))).status, 202);
    await rx.waitFor(2, 15_000);
    const back = (rx.events() as Ev[])[1];
    assert.equal(back?.relay?.image?.['unavailable'], undefined, JSON.stringify(back));
    assert.equal(back?.relay?.image?.['signed'], false);

    // Wrong credentials: a registry with basic auth answers 401 to them.
    const locked = await startRegistry(bin, [], {
      auth: { htpasswd: { username: USER, password: PASSWORD } },
    });
    cleanups.push(() => locked.stop());
    await relay.stop();
    const relay2 = await startTestRelay([{ name: 'all', url: rx.url, enrich: true }], {
      registries: [
        {
          name: 'locked',
          url: locked.base,
          auth: { username: USER, password: 'wrong-password-77' },
        },
      ],
    });
    cleanups.push(() => relay2.stop());
    const lockedHost = `127.0.0.1:${String(locked.port)}`;
    assert.equal(
      (await relay2.post(distribution(images.app.digest, 'v1', lockedHost))).status,
      202,
    );
    await rx.waitFor(3, 15_000);
    assert.equal((rx.events() as Ev[])[2]?.relay?.image?.['unavailable'], 'unauthorized');
    state = (await (await fetch(`${relay2.debugUrl}/api/v1/registries`)).json()) as typeof state;
    assert.equal(state.registries[0]?.state, 'failing');
    assert.equal(state.registries[0].lastError?.reason, 'unauthorized');
    const logLine = relay2.lines.find((l) => l.includes('registry request failed'));
    assert.ok(logLine?.includes('unauthorized'), relay2.lines.join('\n'));
    for (const text of [
      relay2.lines.join('\n'),
      JSON.stringify(state),
      JSON.stringify(await relay2.vars()),
      await (await fetch(`${relay2.debugUrl}/metrics`)).text(),
    ]) {
      assert.ok(!text.includes('wrong-password-77'));
    }
  });
});
