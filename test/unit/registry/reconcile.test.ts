import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { systemClock } from '../../../src/core/clock.ts';
import { RegistryClient, type RegistryPlan } from '../../../src/registry/client.ts';
import { Reconciler, type PassReport } from '../../../src/registry/reconcile.ts';
import { LocalLeases } from '../../../src/storage/local-leases.ts';
import { TagState } from '../../../src/storage/tags.ts';
import { Budget } from '../../../src/registry/walk.ts';
import { FakeClock, memoryLogger } from '../../support/helpers.ts';
import { assertValidEnvelope } from '../../support/schema.ts';

type Ev = {
  id: string;
  action: string;
  target: { repository: string; tag: string; digest: string };
};

/** A registry API over `repos` (repository → tag → digest); `fail` names paths answered 500. */
async function fakeRegistry(
  repos: Map<string, Map<string, string>>,
  fail: Set<string>,
  pageSize = 2,
) {
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${req.method ?? ''} ${url.pathname}`);
    if ([...fail].some((f) => url.pathname.includes(f))) return res.writeHead(500).end();
    if (url.pathname === '/v2/_catalog') {
      // `pageSize` per page at most, with Link, as Distribution pages the catalog.
      const names = [...repos.keys()].sort();
      const last = url.searchParams.get('last');
      const n = Math.min(Number(url.searchParams.get('n') ?? 100), pageSize);
      const from = last === null ? 0 : names.indexOf(last) + 1;
      const page = names.slice(from, from + n);
      const more = from + n < names.length;
      const link = `</v2/_catalog?last=${encodeURIComponent(page[page.length - 1] ?? '')}&n=${String(n)}>; rel="next"`;
      return res
        .writeHead(200, { 'content-type': 'application/json', ...(more ? { link } : {}) })
        .end(JSON.stringify({ repositories: page }));
    }
    const tags = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (tags) {
      const repo = repos.get(tags[1] ?? '');
      if (repo === undefined) return res.writeHead(404).end();
      return res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ name: tags[1], tags: [...repo.keys()] }));
    }
    const head = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    const digest = head ? repos.get(head[1] ?? '')?.get(head[2] ?? '') : undefined;
    if (digest === undefined) return res.writeHead(404).end();
    res
      .writeHead(200, {
        'docker-content-digest': digest,
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-length': '400',
      })
      .end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => {
          r();
        });
      }),
  };
}

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('reconciler', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c();
  });

  async function setup(
    opts: {
      reportFirstPass?: boolean;
      repositories?: string[];
      catalog?: boolean;
      repos?: Map<string, Map<string, string>>;
      pageSize?: number;
      budget?: number;
    } = {},
  ) {
    const repos =
      opts.repos ??
      new Map<string, Map<string, string>>([
        [
          'team/a',
          new Map([
            ['v1', d(1)],
            ['v2', d(2)],
          ]),
        ],
        ['team/b', new Map([['v1', d(3)]])],
        ['team/c', new Map([['latest', d(4)]])],
        ['other/x', new Map([['v1', d(5)]])],
      ]);
    const fail = new Set<string>();
    const reg = await fakeRegistry(repos, fail, opts.pageSize);
    closers.push(reg.close);
    const plan: RegistryPlan = {
      name: 'r',
      url: reg.url,
      hosts: ['registry.example.com'],
      auth: { kind: 'anonymous' },
      tls: undefined,
      proxy: undefined,
      timeoutMs: 2000,
      concurrency: 4,
      waitMs: 1000,
      cacheEntries: 100,
      referrersMaxAgeMs: 1000,
      reconcile: {
        intervalMs: 3_600_000,
        repositories: opts.repositories ?? ['team/**'],
        catalog: opts.catalog ?? true,
        budget: opts.budget ?? 10_000,
        reportFirstPass: opts.reportFirstPass ?? false,
      },
    };
    const client = new RegistryClient(plan, {
      clock: systemClock,
      listener: { onRequest: () => undefined },
      env: {},
    });
    closers.push(() => client.close());
    const state = new TagState(undefined, () => undefined);
    const reported: Ev[] = [];
    const passes: PassReport[] = [];
    const reconciler = new Reconciler({
      client,
      plan: plan.reconcile ?? assert.fail(),
      state,
      leases: new LocalLeases(),
      holder: 'test',
      clock: systemClock,
      log: memoryLogger().log,
      listener: { onPass: (_n, r) => passes.push(r) },
      report: (events) => {
        assertValidEnvelope({ events }, 'reported by a walk');
        reported.push(...(events as Ev[]));
        return Promise.resolve();
      },
    });
    closers.push(() => reconciler.stop());
    return { repos, fail, reg, state, reported, passes, reconciler };
  }

  it('the first walk records; the next reports a new tag, a moved one and a gone one, once each, with stable ids', async () => {
    const { repos, reported, reconciler, reg } = await setup();
    const first = await reconciler.runNow();
    assert.equal(first?.result, 'complete');
    assert.equal(first.first, true);
    assert.equal(reported.length, 0, 'the first walk only records');
    // Catalog: 4 repositories in 2 pages; team/** matches 3; 4 tags.
    assert.deepEqual([first.repositories, first.tags], [3, 4]);
    assert.equal(first.requests, 2 + 3 + 4, 'catalog pages + tag lists + manifest HEADs');
    assert.ok(
      !reg.seen.some((s) => s.includes('other/x')),
      'repositories the patterns leave out are not walked',
    );

    repos.get('team/a')?.set('v3', d(6));
    repos.get('team/a')?.set('v1', d(7));
    repos.get('team/b')?.delete('v1');
    repos.delete('team/c');
    const second = await reconciler.runNow();
    assert.equal(second?.result, 'complete');
    const got = reported
      .map((e) => `${e.action} ${e.target.repository}:${e.target.tag} ${e.target.digest}`)
      .sort();
    assert.deepEqual(got, [
      `delete team/b:v1 ${d(3)}`,
      `delete team/c:latest ${d(4)}`,
      `push team/a:v1 ${d(7)}`,
      `push team/a:v3 ${d(6)}`,
    ]);
    assert.ok(reported.every((e) => /^reconcile-[A-Za-z0-9_-]{32}$/.test(e.id)));
    const third = await reconciler.runNow();
    assert.equal(third?.pushes, 0);
    assert.equal(third.deletes, 0);
    assert.equal(reported.length, 4, 'nothing reported twice');
  });

  it('a walk the registry fails mid-way reports no delete from what it did not list, and the next resumes', async () => {
    const { repos, fail, reported, reconciler, state } = await setup();
    await reconciler.runNow();
    repos.get('team/b')?.delete('v1');
    repos.get('team/c')?.delete('latest');
    repos.get('team/a')?.set('v9', d(9));
    fail.add('/team/b/tags/list');
    const broken = await reconciler.runNow();
    assert.equal(broken?.result, 'failed');
    assert.match(broken.error ?? '', /answered 500/);
    assert.deepEqual(
      reported.map((e) => `${e.action} ${e.target.tag}`),
      ['push v9'],
      'team/a walked; nothing deleted in b or c',
    );
    assert.equal(state.get('r', 'team/c', 'latest')?.deleted, false);
    fail.clear();
    const resumed = await reconciler.runNow();
    assert.equal(resumed?.result, 'complete');
    assert.equal(resumed.repositories, 2, 'resumed after team/a');
    assert.deepEqual(reported.map((e) => `${e.action} ${e.target.tag}`).sort(), [
      'delete latest',
      'delete v1',
      'push v9',
    ]);
  });

  it('a catalog that cannot be listed whole reports nothing deleted', async () => {
    const { repos, fail, reported, reconciler } = await setup();
    await reconciler.runNow();
    repos.delete('team/c');
    fail.add('/_catalog');
    const pass = await reconciler.runNow();
    assert.equal(pass?.result, 'failed');
    assert.equal(reported.length, 0);
  });

  it('firstPass: report reports what exists; an explicit list walks without the catalog', async () => {
    const { reported, reconciler, reg } = await setup({
      reportFirstPass: true,
      catalog: false,
      repositories: ['team/a', 'other/x'],
    });
    const pass = await reconciler.runNow();
    assert.equal(pass?.pushes, 3);
    assert.deepEqual(reported.map((e) => `${e.target.repository}:${e.target.tag}`).sort(), [
      'other/x:v1',
      'team/a:v1',
      'team/a:v2',
    ]);
    assert.ok(!reg.seen.some((s) => s.includes('_catalog')));
  });

  it('a registry first walked empty is known: tags that appear later are reported', async () => {
    const empty = new Map<string, Map<string, string>>();
    const { repos, reported, reconciler } = await setup({ repos: empty });
    assert.equal((await reconciler.runNow())?.first, true);
    repos.set('team/new', new Map([['v1', d(42)]]));
    const next = await reconciler.runNow();
    assert.equal(next?.first, false);
    assert.deepEqual(
      reported.map((e) => `${e.action} ${e.target.repository}:${e.target.tag}`),
      ['push team/new:v1'],
    );
  });

  it('cost: 200 repositories × 10 tags is ceil(200/100) catalog pages + 200 tag lists + 2,000 HEADs', async () => {
    const repos = new Map<string, Map<string, string>>();
    for (let r = 0; r < 200; r++) {
      repos.set(
        `team/r${String(r).padStart(3, '0')}`,
        new Map(Array.from({ length: 10 }, (_, i) => [`v${String(i)}`, d(r * 10 + i + 1)])),
      );
    }
    const { reconciler } = await setup({ repos, pageSize: 100, budget: 5000 });
    const pass = await reconciler.runNow();
    assert.equal(pass?.result, 'complete');
    assert.deepEqual([pass.repositories, pass.tags, pass.requests], [200, 2000, 2 + 200 + 2000]);
  });
});

describe('walk budget', () => {
  it('spreads requests evenly at the budget on the clock, never faster', async () => {
    const clock = new FakeClock();
    const budget = new Budget(20, clock);
    const start = clock.now();
    const done: number[] = [];
    const all = Promise.all(
      Array.from({ length: 5 }, () =>
        budget.take().then(() => {
          done.push(clock.now() - start);
        }),
      ),
    );
    await clock.advance(1000);
    await all;
    assert.deepEqual(done, [0, 50, 100, 150, 200]);
    assert.equal(budget.spent, 5);
  });
});
