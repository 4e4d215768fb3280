import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Filter } from '../../../src/endpoint/filter.ts';
import { readEnvelope, type Accepted } from '../../../src/core/event.ts';
import { closedAfterTests, loadFixtures, makeConfig } from '../../support/helpers.ts';
import { ConfigError } from '../../../src/core/errors.ts';

// The 14 events registry 2.8.2 sent for: push of a 2-layer image as team/app:v1.0.0, pulls
// by tag and digest, a blob pull, a mount into mirror/app, pushes of :latest and :canary,
// then a manifest delete (with its two tag deletes) and a blob delete.
const fixtures: Accepted[] = loadFixtures('plain').flatMap((r) =>
  readEnvelope(JSON.parse(r.body), 0),
);
const ALL = fixtures.map((_, i) => i);

function filterFor(endpoint: Record<string, unknown>): Filter {
  const [e] = makeConfig([{ name: 'ep', url: 'http://127.0.0.1:9/', ...endpoint }]).notifications
    .endpoints;
  assert.ok(e);
  return new Filter(
    { mediaTypes: [...e.ignoredMediaTypes, ...e.ignore.mediaTypes], actions: e.ignore.actions },
    e.filter,
  );
}

const passing = (endpoint: Record<string, unknown>): number[] => {
  const filter = filterFor(endpoint);
  return fixtures.flatMap((a, i) => (filter.accepts(a.facts) ? [i] : []));
};

describe('filters against the registry 2.8.2 fixtures', () => {
  it('has the fixture events this table is written for', () => {
    assert.deepEqual(
      fixtures.map((a) => `${a.facts.action} ${a.facts.targets.join('|')} ${a.facts.tag ?? '-'}`),
      [
        'push blob -',
        'push blob -',
        'push manifest v1.0.0',
        'pull manifest v1.0.0',
        'pull manifest v1.0.0',
        'pull manifest -',
        'pull blob -',
        'mount blob -',
        'push manifest latest',
        'push manifest canary',
        'delete manifest|blob -',
        'delete tag latest',
        'delete tag canary',
        'delete manifest|blob -',
      ],
    );
  });

  const cases: [string, Record<string, unknown>, number[]][] = [
    ['no filter: everything', {}, ALL],
    [
      'actions as a bare list is an include list',
      { filter: { actions: ['push'] } },
      [0, 1, 2, 8, 9],
    ],
    [
      'targets manifest (a delete by digest may be one)',
      { filter: { targets: ['manifest'] } },
      [2, 3, 4, 5, 8, 9, 10, 13],
    ],
    ['a tag glob: events without a tag do not match', { filter: { tags: ['v*'] } }, [2, 3, 4]],
    [
      'AND across fields: release-tag pushes only',
      { filter: { actions: ['push'], tags: ['/^v[0-9]+\\.[0-9]+\\.[0-9]+$/'] } },
      [2],
    ],
    [
      'a repository glob: * stops at /',
      { filter: { repositories: ['team/*'] } },
      ALL.filter((i) => i !== 7),
    ],
    [
      'exclude wins over include',
      { filter: { repositories: { include: ['**'], exclude: ['mirror/**'] } } },
      ALL.filter((i) => i !== 7),
    ],
    [
      'exclude targets blob also drops a delete by digest',
      { filter: { targets: { exclude: ['blob'] } } },
      [2, 3, 4, 5, 8, 9, 11, 12],
    ],
    [
      'an exclude list lets events without the field through',
      { filter: { tags: { exclude: ['canary'] } } },
      ALL.filter((i) => i !== 9 && i !== 12),
    ],
    ['media type glob', { filter: { mediatypes: ['application/vnd.oci.*'] } }, [8, 9]],
    [
      'a regular expression with flags',
      { filter: { repositories: ['/^TEAM\\//i'] } },
      ALL.filter((i) => i !== 7),
    ],
    [
      "combined with the registry's ignore rules",
      { ignore: { actions: ['pull'] }, filter: { actions: ['push', 'pull'] } },
      [0, 1, 2, 8, 9],
    ],
    [
      'ignoredmediatypes still apply',
      { ignoredmediatypes: ['application/octet-stream'], filter: { actions: ['push'] } },
      [2, 8, 9],
    ],
  ];
  for (const [name, endpoint, expected] of cases) {
    it(name, () => {
      assert.deepEqual(passing(endpoint), expected);
    });
  }
});

describe('filter config errors', () => {
  const problems = (endpoint: Record<string, unknown>): string => {
    try {
      makeConfig([{ name: 'ci', url: 'http://127.0.0.1:9/', ...endpoint }]);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems.join('\n');
    }
    return assert.fail('the config was accepted');
  };

  it('names the endpoint and the field of a bad regular expression', () => {
    assert.match(
      problems({ filter: { repositories: { exclude: ['ok/*', '/([a-z/'] } } }),
      /^notifications\.endpoints\[0\]\.filter\.repositories\.exclude\[1\]: endpoint "ci": not a regular expression: .*Unterminated/m,
    );
  });

  it('refuses unknown targets, unknown fields and empty patterns', () => {
    assert.match(
      problems({ filter: { targets: ['image'] } }),
      /filter\.targets\.include\[0\]: expected manifest, blob or tag \(got "image"\)/,
    );
    assert.match(problems({ filter: { tag: ['v*'] } }), /filter\.tag: unknown key/);
    assert.match(
      problems({ filter: { tags: [''] } }),
      /filter\.tags\.include\[0\]: endpoint "ci": an empty pattern/,
    );
  });
});

describe('filters in a running relay', () => {
  const scope = closedAfterTests();

  it('delivers each endpoint exactly the fixture events its filter passes', async () => {
    const releases = await scope.receiver();
    const audit = await scope.receiver();
    const relay = await scope.relay([
      { name: 'releases', url: releases.url, filter: { actions: ['push'], tags: ['v*'] } },
      { name: 'audit', url: audit.url, filter: { actions: { exclude: ['pull'] } } },
    ]);
    for (const request of loadFixtures('plain')) {
      assert.equal((await relay.post(request.body)).status, 202);
    }
    const ids = (which: number[]): string[] => which.map((i) => fixtures[i]?.event.id ?? '');
    await audit.waitFor(10);
    await releases.waitFor(1);
    assert.deepEqual(audit.ids(), ids([0, 1, 2, 7, 8, 9, 10, 11, 12, 13]));
    assert.deepEqual(releases.ids(), ids([2]));
    const metrics = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    assert.match(metrics, /relay_filtered_events_total\{endpoint="releases"\} 13/);
    assert.match(metrics, /relay_filtered_events_total\{endpoint="audit"\} 4/);
    assert.equal((await relay.endpointVars('releases')).Metrics.Events, 1);
  });
});
