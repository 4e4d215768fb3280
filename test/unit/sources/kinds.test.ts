// Every kind of event beyond push, pull and delete, from each sender that sends it
// (test/fixtures/sources/*/SOURCES.md says where each payload comes from): the normalised
// event field by field, its detail, the published schema, the CloudEvents type and the
// Slack line; then routing: a config that names no actions receives none of them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readEnvelope, type RelayEvent } from '../../../src/core/event.ts';
import { SourceBodyError, TemplateError } from '../../../src/core/errors.ts';
import { EVENT_KINDS } from '../../../src/core/kinds.ts';
import { Filter } from '../../../src/endpoint/filter.ts';
import { cloudEventsFormat } from '../../../src/endpoint/format/cloudevents.ts';
import { slackFormat } from '../../../src/endpoint/format/slack.ts';
import { templateFormat } from '../../../src/endpoint/format/template.ts';
import type { SourceType } from '../../../src/sources/adapter.ts';
import { ADAPTERS } from '../../../src/sources/index.ts';
import { closedAfterTests } from '../../support/helpers.ts';
import { nearMiss } from '../../support/near-miss.ts';
import { assertValidEnvelope } from '../../support/schema.ts';

const RECEIVED = Date.parse('2026-01-02T03:04:05.000Z');
const scope = closedAfterTests();

function request(type: string, file: string): { headers: IncomingHttpHeaders; body: unknown } {
  const raw = JSON.parse(
    readFileSync(new URL(`../../fixtures/sources/${type}/${file}`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
  return type === 'zot' && raw['headers'] !== undefined
    ? { headers: raw['headers'] as IncomingHttpHeaders, body: raw['body'] }
    : { headers: {}, body: raw };
}

/** A fixture through its adapter, with the fields ingest adds, as the relay carries it. */
function normalise(type: SourceType, file: string, declared?: string) {
  const { headers, body } = request(type, file);
  const out = ADAPTERS[type]({ headers, body, receivedAt: RECEIVED, declared });
  if (out.kind !== 'events') assert.fail(`${type}/${file}: ${JSON.stringify(out)}`);
  const events: (Record<string, unknown> & { relay: Record<string, unknown> })[] = out.events.map(
    (e) => ({
      ...e,
      relay: { ...(e['relay'] as object | undefined), source: type, type, original: body },
    }),
  );
  assertValidEnvelope({ events }, `${type}/${file}`);
  const relayEvents: RelayEvent[] = readEnvelope({ events }, RECEIVED, type).map((a) => a.event);
  return { events, relayEvents };
}

const ceType = (e: RelayEvent): string =>
  (
    JSON.parse(cloudEventsFormat('structured', undefined).render([e]).body) as {
      type: string;
    }
  ).type;
const slack = (e: RelayEvent): string =>
  (JSON.parse(slackFormat.render([e]).body) as { text: string }).text;

interface Case {
  readonly type: SourceType;
  readonly file: string;
  readonly declared?: string;
  readonly action: string;
  readonly target: Record<string, unknown>;
  readonly host?: string;
  readonly actor?: string;
  readonly detail: Record<string, unknown>;
  readonly ce: string;
  readonly slack: RegExp;
}

const BUSYBOX = 'sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c';
const busyboxTarget = {
  digest: BUSYBOX,
  repository: 'library/busybox',
  url: `https://harbor.dev/v2/library/busybox/manifests/${BUSYBOX}`,
  tag: 'latest',
};
const trivy = { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.50.1' };
const quayBuild = (c: string, message: string) => ({
  kind: 'github',
  id: '38b6e180-9521-4ff7-9844-acf371340b9e',
  ref: 'refs/heads/master',
  commit: c,
  url: `https://github.com/dgangaia/test/commit/${c}`,
  message,
  author: 'dgangaia',
});
const ZOT_DIGEST = 'sha256:1f1e0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7';

const CASES: readonly Case[] = [
  {
    type: 'harbor',
    file: 'scanning-completed.json',
    action: 'scan',
    target: busyboxTarget,
    host: 'harbor.dev',
    actor: 'auto',
    detail: {
      status: 'completed',
      type: 'vulnerability',
      scanner: trivy,
      severity: 'critical',
      counts: { critical: 1, high: 3, medium: 5, low: 3 },
      total: 12,
      fixable: 7,
      reportId: '7e1c6d0c-1b0e-4c1f-9f63-5d7a3a7c1a52',
      report: `https://harbor.dev/api/v2.0/projects/library/repositories/busybox/artifacts/${BUSYBOX}/additions/vulnerabilities`,
      startedAt: '2023-04-03T06:06:18.000Z',
      finishedAt: '2023-04-03T06:06:40.000Z',
      durationSeconds: 22,
    },
    ce: 'registry.scan.completed',
    slack:
      /^:rotating_light: \*vulnerabilities found\* in `library\/busybox:latest` \(sha256:dde8e930c7b6\) — 1 critical, 3 high, 5 medium, 3 low \(7 fixable\) · Trivy v0\.50\.1 on harbor\.dev <https:\/\/harbor\.dev\/api\/v2\.0\/projects\/library\/repositories\/busybox\/artifacts\/sha256:[0-9a-f]+\/additions\/vulnerabilities\|report>$/,
  },
  {
    type: 'harbor',
    file: 'scanning-failed.json',
    action: 'scan',
    target: busyboxTarget,
    host: 'harbor.dev',
    actor: 'admin',
    detail: {
      status: 'failed',
      type: 'vulnerability',
      scanner: trivy,
      reportId: '0b8c',
      report: `https://harbor.dev/api/v2.0/projects/library/repositories/busybox/artifacts/${BUSYBOX}/additions/vulnerabilities`,
      startedAt: '2023-04-03T06:08:00.000Z',
      finishedAt: '2023-04-03T06:08:03.000Z',
      durationSeconds: 3,
    },
    ce: 'registry.scan.failed',
    slack: /^\*scan failed\* for `library\/busybox:latest` \(sha256:dde8e930c7b6\) · Trivy/,
  },
  {
    type: 'harbor',
    file: 'scanning-stopped-cloudevents.json',
    action: 'scan',
    target: busyboxTarget,
    host: 'harbor.dev',
    actor: 'admin',
    detail: {
      status: 'stopped',
      type: 'sbom',
      scanner: trivy,
      reportId: '5a6b',
      startedAt: '2023-04-03T06:08:50.000Z',
      finishedAt: '2023-04-03T06:09:00.000Z',
      durationSeconds: 10,
    },
    ce: 'registry.scan.stopped',
    slack: /^\*scan stopped\* for `library\/busybox:latest`/,
  },
  {
    type: 'harbor',
    file: 'quota-exceed.json',
    action: 'quota',
    target: {
      digest: 'sha256:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091',
      repository: 'team/app',
      tag: 'big',
    },
    actor: 'alice',
    detail: {
      state: 'exceeded',
      namespace: 'team',
      message:
        'adding 95.4 MiB of storage resource, which when updated to current usage of 1.0 GiB will exceed the configured upper limit of 1.0 GiB.',
    },
    ce: 'registry.quota.exceeded',
    slack: /^:no_entry: \*quota exceeded\* for `team` \(`team\/app`\): adding 95\.4 MiB/,
  },
  {
    type: 'harbor',
    file: 'quota-warning-cloudevents.json',
    action: 'quota',
    target: { repository: 'team/app' },
    actor: 'alice',
    detail: {
      state: 'warning',
      namespace: 'team',
      message: 'quota usage reach 85%: resource storage used 870.4 MiB of 1.0 GiB',
    },
    ce: 'registry.quota.warning',
    slack: /^:warning: \*quota warning\* for `team`/,
  },
  {
    type: 'harbor',
    file: 'replication.json',
    action: 'replication',
    target: { repository: 'library/busybox', tag: 'latest' },
    host: 'harbor.dev',
    actor: 'MANUAL',
    detail: {
      status: 'succeeded',
      policy: {
        description: 'push library to the DR site',
        creator: 'admin',
        trigger: 'MANUAL',
        override: true,
      },
      executionId: 31,
      taskId: 52,
      startedAt: '2023-04-03T06:39:50.000Z',
      source: { type: 'harbor', endpoint: 'https://harbor.dev', namespace: 'library' },
      destination: {
        registry: 'dr-site',
        type: 'harbor',
        endpoint: 'https://dr.harbor.dev',
        namespace: 'library',
      },
      succeeded: 1,
      failed: 0,
      artifacts: [
        { name: 'busybox:latest', type: 'image', status: 'succeeded', references: ['latest'] },
      ],
    },
    ce: 'registry.replication.succeeded',
    slack:
      /^\*replication succeeded\* `push library to the DR site`: 1 succeeded, 0 failed \(`library\/busybox:latest`\) to https:\/\/dr\.harbor\.dev$/,
  },
  {
    type: 'harbor',
    file: 'replication-failed-cloudevents.json',
    action: 'replication',
    target: { repository: 'mirror/nginx', tag: '1.27' },
    host: 'harbor.dev',
    actor: 'SCHEDULED',
    detail: {
      status: 'failed',
      policy: { description: 'pull from Docker Hub', creator: 'admin', trigger: 'SCHEDULED' },
      executionId: 32,
      taskId: 53,
      startedAt: '2023-04-03T07:59:50.000Z',
      source: {
        registry: 'hub',
        type: 'docker-hub',
        endpoint: 'https://hub.docker.com',
        namespace: 'library',
      },
      destination: { type: 'harbor', endpoint: 'https://harbor.dev', namespace: 'mirror' },
      succeeded: 0,
      failed: 1,
      artifacts: [{ name: 'nginx:1.27', type: 'image', status: 'failed', references: ['1.27'] }],
    },
    ce: 'registry.replication.failed',
    slack: /^\*replication failed\* `pull from Docker Hub`: 0 succeeded, 1 failed/,
  },
  {
    type: 'harbor',
    file: 'tag-retention.json',
    action: 'retention',
    target: {},
    host: 'harbor.dev',
    actor: 'SCHEDULE',
    detail: {
      status: 'succeeded',
      project: 'library',
      policyId: 7,
      total: 3,
      retained: 1,
      deleted: 2,
      artifacts: [
        { name: 'library/busybox:1.35', type: 'image', status: 'succeeded' },
        { name: 'library/busybox@sha256:9f2a', type: 'image', status: 'succeeded' },
      ],
    },
    ce: 'registry.retention.succeeded',
    slack: /^\*tag retention succeeded\* in `library`: 3 total, 1 retained, 2 deleted$/,
  },
  {
    type: 'quay',
    file: 'build-queued.json',
    action: 'build',
    target: { repository: 'dgangaia/test' },
    host: 'quay.io',
    detail: {
      phase: 'queued',
      id: '296ec063-5f86-4706-a469-f0a400bf9df2',
      tags: ['master', 'latest'],
      trigger: quayBuild('b7f7d2b948aacbe844ee465122a85a9368b2b735', 'adding 5'),
      manual: false,
      link: 'https://quay.io/repository/dgangaia/test/build/296ec063-5f86-4706-a469-f0a400bf9df2',
    },
    ce: 'registry.build.queued',
    slack:
      /^\*build queued\* `dgangaia\/test` \(tags `master`, `latest`\) from refs\/heads\/master@b7f7d2b <https:/,
  },
  {
    type: 'quay',
    file: 'build-started.json',
    declared: 'build_start',
    action: 'build',
    target: { repository: 'dgangaia/test' },
    host: 'quay.io',
    detail: {
      phase: 'started',
      id: 'a8cc247a-a662-4fee-8dcb-7d7e822b71ba',
      name: '50bc599',
      tags: ['master', 'latest'],
      trigger: quayBuild('50bc5996d4587fd4b2d8edc4af652d4cec293c42', 'test build'),
      link: 'https://quay.io/repository/dgangaia/test/build/a8cc247a-a662-4fee-8dcb-7d7e822b71ba',
    },
    ce: 'registry.build.started',
    slack: /^\*build started\* `dgangaia\/test` 50bc599/,
  },
  {
    type: 'quay',
    file: 'build-succeeded.json',
    action: 'build',
    target: { repository: 'dgangaia/test' },
    host: 'quay.io',
    detail: {
      phase: 'succeeded',
      id: '296ec063-5f86-4706-a469-f0a400bf9df2',
      name: 'b7f7d2b',
      tags: ['master', 'latest'],
      trigger: quayBuild('b7f7d2b948aacbe844ee465122a85a9368b2b735', 'adding 5'),
      link: 'https://quay.io/repository/dgangaia/test/build/296ec063-5f86-4706-a469-f0a400bf9df2',
      digests: [
        'sha256:2a7af5265344cc3704d5d47c4604b1efcbd227a7a6a6ff73d6e4e08a27fd7d99',
        'sha256:569e7db1a867069835e8e97d50c96eccafde65f08ea3e0d5debaf16e2545d9d1',
      ],
    },
    ce: 'registry.build.succeeded',
    slack: /^:white_check_mark: \*build succeeded\* `dgangaia\/test` b7f7d2b/,
  },
  {
    type: 'quay',
    file: 'build-failed.json',
    action: 'build',
    target: { repository: 'dgangaia/test' },
    host: 'quay.io',
    detail: {
      phase: 'failed',
      id: '5346a21d-3434-4764-85be-5be1296f293c',
      name: '6ae9a86',
      tags: ['master', 'latest'],
      trigger: quayBuild('6ae9a86930fc73dd07b02e4c5bf63ee60be180ad', 'failed build test'),
      error: 'Could not find or parse Dockerfile: unknown instruction: GIT',
      link: 'https://quay.io/repository/dgangaia/test/build/5346a21d-3434-4764-85be-5be1296f293c',
    },
    ce: 'registry.build.failed',
    slack:
      /^:x: \*build failed\* `dgangaia\/test` 6ae9a86 \(tags `master`, `latest`\) from refs\/heads\/master@6ae9a86: Could not find or parse Dockerfile: unknown instruction: GIT <https:\/\/quay\.io\/repository\/dgangaia\/test\/build\/5346a21d-3434-4764-85be-5be1296f293c\|build>$/,
  },
  {
    type: 'quay',
    file: 'build-cancelled.json',
    declared: 'build_cancelled',
    action: 'build',
    target: { repository: 'dgangaia/test' },
    host: 'quay.io',
    detail: {
      phase: 'cancelled',
      id: 'cbd534c5-f1c0-4816-b4e3-55446b851e70',
      name: 'cbce83c',
      tags: ['master', 'latest'],
      trigger: quayBuild('cbce83c04bfb59734fc42a83aab738704ba7ec41', 'testing cancel build'),
      link: 'https://quay.io/repository/dgangaia/test/build/cbd534c5-f1c0-4816-b4e3-55446b851e70',
    },
    ce: 'registry.build.cancelled',
    slack: /^\*build cancelled\* `dgangaia\/test` cbce83c/,
  },
  {
    type: 'quay',
    file: 'vulnerability-found.json',
    action: 'vulnerability',
    target: { repository: 'dgangaia/repository' },
    host: 'quay.io',
    detail: {
      id: 'CVE-1234-5678',
      severity: 'critical',
      description: 'This is a bad vulnerability',
      link: 'http://url/to/vuln/info',
      fixable: true,
      tags: ['latest', 'othertag'],
    },
    ce: 'registry.vulnerability.found',
    slack:
      /^:warning: \*vulnerability\* CVE-1234-5678 \(critical, fix available\) in `dgangaia\/repository` tags `latest`, `othertag`: This is a bad vulnerability <http:\/\/url\/to\/vuln\/info\|details>$/,
  },
  {
    type: 'quay',
    file: 'image-expiry.json',
    action: 'expiry',
    target: { repository: 'sample_org/busybox' },
    host: 'quay-server.example.com',
    detail: { tags: ['latest', 'v1'], days: 1, in: '1 days' },
    ce: 'registry.expiry.upcoming',
    slack: /^:hourglass: \*tags expiring\* in 1 days: `sample_org\/busybox` tags `latest`, `v1`$/,
  },
  {
    type: 'quay',
    file: 'quota-warning.json',
    action: 'quota',
    target: {},
    host: 'quay-server.example.com',
    detail: {
      state: 'warning',
      namespace: 'sample_org',
      usedBytes: 858993459,
      limitBytes: 1073741824,
      usedPercent: 80,
      thresholdPercent: 80,
    },
    ce: 'registry.quota.warning',
    slack: /^:warning: \*quota warning\* for `sample_org`: 819\.2 MiB of 1\.0 GiB \(80%\)$/,
  },
  {
    type: 'quay',
    file: 'quota-error.json',
    action: 'quota',
    target: {},
    host: 'quay-server.example.com',
    detail: {
      state: 'exceeded',
      namespace: 'sample_org',
      usedBytes: 1127428915,
      limitBytes: 1073741824,
      usedPercent: 105,
      thresholdPercent: 100,
    },
    ce: 'registry.quota.exceeded',
    slack: /^:no_entry: \*quota exceeded\* for `sample_org`: 1\.0 GiB of 1\.0 GiB \(105%\)$/,
  },
  {
    type: 'quay',
    file: 'mirror-sync-failed.json',
    declared: 'repo_mirror_sync_failed',
    action: 'mirror',
    target: { repository: 'sample_org/busybox' },
    host: 'quay-server.example.com',
    detail: { status: 'failed', message: 'sample_org/busybox' },
    ce: 'registry.mirror.failed',
    slack: /^\*mirror sync failed\* `sample_org\/busybox`: sample_org\/busybox$/,
  },
  {
    type: 'zot',
    file: 'image-scanned-structured.json',
    action: 'scan',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: ZOT_DIGEST,
      repository: 'team/api',
      tag: '1.0.3',
    },
    detail: {
      status: 'completed',
      type: 'vulnerability',
      severity: 'high',
      counts: { critical: 0, high: 2, medium: 4, low: 3, unknown: 0 },
      total: 9,
      fixable: 4,
    },
    ce: 'registry.scan.completed',
    slack:
      /^:rotating_light: \*vulnerabilities found\* in `team\/api:1\.0\.3` \(sha256:1f1e0a2b3c4d\) — 2 high, 4 medium, 3 low \(4 fixable\)$/,
  },
  {
    type: 'zot',
    file: 'image-lint-failed.json',
    action: 'lint',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:2a1e0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8',
      repository: 'team/api',
      tag: '1.0.4',
    },
    actor: 'ci-bot',
    detail: { status: 'failed' },
    ce: 'registry.lint.failed',
    slack: /^\*lint failed\* `team\/api:1\.0\.4` \(sha256:2a1e0a2b3c4d\)$/,
  },
  {
    type: 'zot',
    file: 'repository-created.json',
    action: 'repository',
    target: { repository: 'team/new' },
    detail: { change: 'created' },
    ce: 'registry.repository.created',
    slack: /^\*repository created\* `team\/new`$/,
  },
];

describe('every kind of event', () => {
  for (const c of CASES) {
    it(`${c.type}/${c.file}${c.declared === undefined ? '' : `?event=${c.declared}`}: ${c.action}`, () => {
      const { events, relayEvents } = normalise(c.type, c.file, c.declared);
      assert.equal(events.length, 1);
      const [e] = events;
      const [relayEvent] = relayEvents;
      assert.ok(e && relayEvent);
      assert.equal(e['action'], c.action);
      assert.deepEqual(e['target'], c.target);
      assert.deepEqual(e['request'], c.host === undefined ? {} : { host: c.host });
      assert.deepEqual(e['actor'], c.actor === undefined ? {} : { name: c.actor });
      assert.deepEqual(e.relay[c.action], c.detail);
      assert.match(String(e['id']), /^(harbor|quay|zot)-[\w-]+$/);
      assert.equal(ceType(relayEvent), c.ce);
      assert.match(slack(relayEvent), c.slack);
    });
  }

  it('has a fixture for every kind the relay defines', () => {
    const covered = new Set(CASES.map((c) => c.action));
    assert.deepEqual(
      EVENT_KINDS.filter((k) => !covered.has(k)),
      [],
      'every kind has a fixture',
    );
  });

  it('gitlab: a tag delete stays a delete; a repository delete and a rename carry relay.repository', () => {
    const deletes = normalise('gitlab', 'tag-and-repository-deletes.json');
    const [tagDelete, repoDelete] = deletes.events;
    assert.ok(tagDelete && repoDelete);
    assert.deepEqual(tagDelete['target'], { repository: 'group/project/app', tag: 'v2.0.0' });
    assert.equal(tagDelete.relay['repository'], undefined);
    assert.equal(ceType(deletes.relayEvents[0] as RelayEvent), 'registry.tag.deleted');
    assert.deepEqual(repoDelete.relay['repository'], {
      change: 'deleted',
    });
    assert.equal(repoDelete['action'], 'delete', 'the registry’s own action, as sent');
    assert.equal(ceType(deletes.relayEvents[1] as RelayEvent), 'registry.repository.deleted');
    assert.match(
      slack(deletes.relayEvents[1] as RelayEvent),
      /^\*repository deleted\* `group\/project\/old` by jdoe on registry\.gitlab\.example\.com$/,
    );
    const renames = normalise('gitlab', 'push-and-rename.json');
    assert.deepEqual((renames.events[1]?.relay as Record<string, unknown>)['repository'], {
      change: 'renamed',
      type: 'name',
      from: 'group/project',
      to: 'group/project-new',
    });
    assert.equal(ceType(renames.relayEvents[1] as RelayEvent), 'registry.repository.renamed');
    assert.match(
      slack(renames.relayEvents[1] as RelayEvent),
      /^\*repository renamed\* `group\/project` → `group\/project-new` by jdoe/,
    );
    assert.equal(ceType(renames.relayEvents[0] as RelayEvent), 'registry.manifest.pushed');
  });

  it('quay: the shape tells kinds apart; a build phase the shape cannot tell is unknown unless declared', () => {
    const phase = (file: string, declared?: string) =>
      (normalise('quay', file, declared).events[0]?.relay as { build: { phase: string } }).build
        .phase;
    assert.equal(phase('build-started.json'), 'unknown', 'started and cancelled look the same');
    assert.equal(phase('build-cancelled.json'), 'unknown');
    assert.equal(phase('build-success.json'), 'unknown', 'no manifest_digests in this sample');
    assert.equal(phase('build-success.json', 'build_success'), 'succeeded');
    assert.equal(phase('build-failed.json', 'build_failure'), 'failed');
    assert.deepEqual(
      (normalise('quay', 'mirror-sync-failed.json').events[0]?.relay as { mirror: object }).mirror,
      { status: 'unknown', message: 'sample_org/busybox' },
      'a mirror sync’s outcome is only in the declared event',
    );
    const { body } = request('quay', 'build-failed.json');
    assert.throws(
      () =>
        ADAPTERS.quay({ headers: {}, body, receivedAt: RECEIVED, declared: 'vulnerability_found' }),
      (err: unknown) =>
        err instanceof SourceBodyError && /vulnerability: expected an object/.test(err.message),
      'a body that is not what the URL declares is refused, naming the field',
    );
    assert.throws(
      () => ADAPTERS.quay({ headers: {}, body, receivedAt: RECEIVED, declared: 'build_done' }),
      (err: unknown) =>
        err instanceof SourceBodyError &&
        /Quay has no such event; one of repo_push/.test(err.message),
    );
    // A re-sent notification is the same event (de-duplicated); another phase is another.
    const again = normalise('quay', 'build-failed.json').events[0]?.['id'];
    assert.equal(again, normalise('quay', 'build-failed.json').events[0]?.['id']);
    assert.notEqual(
      again,
      normalise('quay', 'build-failed.json', 'build_cancelled').events[0]?.['id'],
    );
  });
});

describe('routing the other kinds', () => {
  const facts = (action: string, tag?: string, tags?: string[]) => ({
    action,
    mediaType: undefined,
    repository: 'team/app',
    tag,
    ...(tags === undefined ? {} : { tags }),
    digest: undefined,
    host: undefined,
    targets: ['manifest' as const],
    source: 'harbor',
  });
  const none: { include: string[]; exclude: string[] } = { include: [], exclude: [] };
  const rules = (actions: { include: string[]; exclude: string[] }, tags = none) => ({
    actions,
    mediatypes: none,
    repositories: none,
    tags,
    targets: none,
    sources: none,
  });
  const ignore = { mediaTypes: [], actions: [] };

  it('a filter that names no actions takes the registry actions only', () => {
    for (const filter of [
      new Filter(ignore),
      new Filter(ignore, rules(none)),
      new Filter(ignore, rules({ include: [], exclude: ['pull'] })),
    ]) {
      for (const a of ['push', 'delete', 'mount', 'rename']) assert.ok(filter.accepts(facts(a)), a);
      for (const k of EVENT_KINDS) assert.equal(filter.accepts(facts(k)), false, k);
    }
  });

  it('a filter that names kinds takes those; `*` takes every kind', () => {
    const security = new Filter(ignore, rules({ include: ['scan', 'vulnerability'], exclude: [] }));
    assert.deepEqual(
      [...EVENT_KINDS, 'push'].filter((k) => security.accepts(facts(k))),
      ['scan', 'vulnerability'],
    );
    const all = new Filter(ignore, rules({ include: ['*'], exclude: ['pull'] }));
    assert.deepEqual(
      [...EVENT_KINDS, 'push', 'pull'].filter((k) => !all.accepts(facts(k))),
      ['pull'],
    );
  });

  it('filter.tags matches any tag a kind’s detail lists', () => {
    const filter = new Filter(
      ignore,
      rules({ include: ['vulnerability'], exclude: [] }, { include: ['othertag'], exclude: [] }),
    );
    assert.ok(filter.accepts(facts('vulnerability', undefined, ['latest', 'othertag'])));
    assert.equal(filter.accepts(facts('vulnerability', undefined, ['latest'])), false);
    const [accepted] = readEnvelope(
      { events: normalise('quay', 'vulnerability-found.json').events },
      RECEIVED,
      'quay',
    );
    assert.deepEqual(accepted?.facts.tags, ['latest', 'othertag']);
  });

  it('templates reach every detail field and the state; a field no kind has is refused', () => {
    const format = templateFormat(
      {
        text: '{{ state }}: {{ detail.counts.critical }} critical in {{ subject }}',
        critical: '{{ detail.counts.critical }}',
        scanner: '{{ event.relay.scan.scanner.name }}',
      },
      'application/json',
    );
    const [scan] = normalise('harbor', 'scanning-completed.json').relayEvents;
    assert.deepEqual(JSON.parse(format.render([scan as RelayEvent]).body), {
      text: 'completed: 1 critical in library/busybox:latest',
      critical: 1,
      scanner: 'Trivy',
    });
    assert.throws(
      () => templateFormat({ x: '{{ detail.nonsense }}' }, 'application/json'),
      (err: unknown) =>
        err instanceof TemplateError && /no kind's detail has this field/.test(err.message),
    );
  });

  it('through a running relay: old configs get no new kind; one naming scan and vulnerability gets exactly those', async () => {
    const PATH_SECRET = 'kinds-path-secret-0123456789';
    const old = await scope.receiver();
    const oldFiltered = await scope.receiver();
    const security = await scope.receiver();
    const everything = await scope.receiver();
    const relay = await scope.relay(
      [
        { name: 'old', url: old.url },
        { name: 'old-filtered', url: oldFiltered.url, filter: { repositories: ['**'] } },
        { name: 'security', url: security.url, filter: { actions: ['scan', 'vulnerability'] } },
        { name: 'everything', url: everything.url, filter: { actions: ['*'] } },
      ],
      {
        sources: [
          { name: 'harbor', type: 'harbor', auth: { none: true } },
          { name: 'quay', type: 'quay', auth: { pathSecret: PATH_SECRET } },
          { name: 'zot', type: 'zot', auth: { none: true } },
          { name: 'gitlab', type: 'gitlab', auth: { none: true } },
        ],
      },
    );
    const posts: { path: string; type: string; file: string }[] = [
      ...[
        'push-default.json',
        'scanning-completed.json',
        'scanning-failed.json',
        'quota-exceed.json',
        'replication.json',
        'tag-retention.json',
      ].map((file) => ({ path: '/sources/harbor', type: 'harbor', file })),
      { path: `/sources/quay/${PATH_SECRET}`, type: 'quay', file: 'repo-push.json' },
      { path: `/sources/quay/${PATH_SECRET}`, type: 'quay', file: 'vulnerability-found.json' },
      {
        path: `/sources/quay/${PATH_SECRET}?event=build_failure`,
        type: 'quay',
        file: 'build-failed.json',
      },
      { path: `/sources/quay/${PATH_SECRET}`, type: 'quay', file: 'image-expiry.json' },
      { path: '/sources/zot', type: 'zot', file: 'image-scanned-structured.json' },
      { path: '/sources/zot', type: 'zot', file: 'repository-created.json' },
      { path: '/sources/gitlab', type: 'gitlab', file: 'tag-and-repository-deletes.json' },
    ];
    let total = 0;
    for (const p of posts) {
      const { headers, body } = request(p.type, p.file);
      const res = await fetch(`${relay.ingestUrl}${p.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(headers as Record<string, string>) },
        body: JSON.stringify(body),
      });
      const answer = (await res.json()) as { accepted: number };
      assert.equal(res.status, 202, `${p.file}: ${JSON.stringify(answer)}`);
      total += answer.accepted;
    }
    // Harbor's push, Quay's two pushes, GitLab's two deletes.
    const artifact = 5;
    await everything.waitFor(total);
    await old.waitFor(artifact);
    await oldFiltered.waitFor(artifact);
    await security.waitFor(3);
    await new Promise((r) => setTimeout(r, 200));
    const actions = (rx: typeof old) =>
      rx
        .events()
        .map((e) => String(e['action']))
        .sort();
    assert.deepEqual(actions(old), ['delete', 'delete', 'push', 'push', 'push']);
    assert.deepEqual(actions(oldFiltered), actions(old));
    assert.deepEqual(actions(security), ['scan', 'scan', 'scan', 'vulnerability']);
    assert.deepEqual(actions(everything), [
      'build',
      'delete',
      'delete',
      'expiry',
      'push',
      'push',
      'push',
      'quota',
      'replication',
      'repository',
      'retention',
      'scan',
      'scan',
      'scan',
      'vulnerability',
    ]);
    const build = everything.events().find((e) => e['action'] === 'build');
    assert.equal((build?.['relay'] as { build: { phase: string } }).build.phase, 'failed');
    for (const e of everything.events()) assertValidEnvelope({ events: [e] }, String(e['action']));
  });

  it('through a running relay, near-misses of every kind are answered 202 or 400, never 5xx', async () => {
    const relay = await scope.relay(
      [{ name: 'all', url: 'http://127.0.0.1:9/', filter: { actions: ['*'] } }],
      {
        sources: [
          { name: 'harbor', type: 'harbor', auth: { none: true } },
          { name: 'quay', type: 'quay', auth: { none: true } },
          { name: 'zot', type: 'zot', auth: { none: true } },
          { name: 'gitlab', type: 'gitlab', auth: { none: true } },
        ],
      },
    );
    const files: Record<string, string[]> = {
      harbor: [
        'scanning-completed.json',
        'quota-exceed.json',
        'replication.json',
        'tag-retention.json',
        'scanning-stopped-cloudevents.json',
      ],
      quay: [
        'build-failed.json',
        'vulnerability-found.json',
        'image-expiry.json',
        'quota-error.json',
        'mirror-sync-failed.json',
      ],
      zot: ['image-scanned-structured.json', 'image-lint-failed.json', 'repository-created.json'],
      gitlab: ['tag-and-repository-deletes.json', 'push-and-rename.json'],
    };
    const samples = Object.entries(files).flatMap(([type, list]) =>
      list.map((file) => ({ type, file, ...request(type, file) })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...samples),
        fc.jsonValue(),
        fc.nat(),
        fc.constantFrom(undefined, 'build_start', 'vulnerability_found', 'quota_error', 'nonsense'),
        async (sample, value, pick, event) => {
          const { body: changed, key } = nearMiss(
            sample.body as Record<string, unknown>,
            value,
            pick,
          );
          const res = await fetch(
            `${relay.ingestUrl}/sources/${sample.type}${event === undefined ? '' : `?event=${event}`}`,
            {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                ...(sample.headers as Record<string, string>),
              },
              body: JSON.stringify(changed),
            },
          );
          const answer = await res.text();
          assert.ok(
            res.status === 202 || res.status === 400,
            `${sample.type}/${sample.file} ${key}: ${String(res.status)} ${answer}`,
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
