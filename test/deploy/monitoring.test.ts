// What operators paste into their monitoring: the Prometheus alerting rules (checked and
// unit tested with promtool, which CI installs with Debian's prometheus package) and the
// Grafana dashboard. Every metric either names is one the README documents, and the
// relay's own /metrics serves it (NATS series only with storage.nats).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { closedAfterTests } from '../support/helpers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const scope = closedAfterTests();

const promtool = process.env['PROMTOOL_BIN'] ?? 'promtool';
const hasPromtool = spawnSync(promtool, ['--version']).status === 0;
const promtoolSkip =
  !hasPromtool && process.env['CI'] !== 'true'
    ? 'promtool not installed (apt-get install prometheus, or set PROMTOOL_BIN)'
    : false;

const rules = parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};
const dashboard = JSON.parse(
  readFileSync(join(ROOT, 'deploy/grafana/registry-relay.json'), 'utf8'),
) as {
  uid: string;
  panels: {
    id: number;
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    targets: { expr: string; refId: string }[];
  }[];
};

/** Metric names in a PromQL expression (histogram series back to their family). */
function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(?:registry_notifications|relay)_[a-z_]+\b/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|count|sum)$/, ''));
}

/** The names in the metrics table of docs/operations.md. */
function documented(): Set<string> {
  const readme = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
  return new Set(
    [...readme.matchAll(/^\| `((?:registry_notifications|relay)_[a-z_]+)`/gm)].map(
      (m) => m[1] ?? '',
    ),
  );
}

const used = [
  ...rules.groups.flatMap((g) => g.rules.flatMap((r) => metricsIn(r.expr))),
  ...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricsIn(t.expr))),
];

describe('monitoring files', () => {
  it('alerts.yml passes promtool check rules and its unit tests', { skip: promtoolSkip }, () => {
    const dir = join(ROOT, 'deploy/prometheus');
    for (const args of [
      ['check', 'rules', 'alerts.yml'],
      ['test', 'rules', 'alerts.test.yml'],
    ]) {
      const run = spawnSync(promtool, args, { cwd: dir, encoding: 'utf8' });
      assert.equal(run.status, 0, `promtool ${args.join(' ')}:\n${run.stdout}${run.stderr}`);
    }
    // Every alert has a unit test.
    const tested = readFileSync(join(dir, 'alerts.test.yml'), 'utf8');
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      assert.ok(tested.includes(`alertname: ${r.alert}`), `${r.alert} is unit tested`);
    }
  });

  it('the dashboard is well formed: unique panel ids, every panel placed and querying', () => {
    assert.equal(dashboard.uid, 'registry-relay');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.w > 0 && p.gridPos.h > 0 && p.gridPos.x + p.gridPos.w <= 24, p.title);
      assert.ok(p.targets.length > 0, `${p.title} queries something`);
      for (const t of p.targets) assert.ok(metricsIn(t.expr).length > 0, `${p.title}: ${t.expr}`);
    }
  });

  it('every metric the alerts and the dashboard use is documented and served', async () => {
    const names = documented();
    for (const m of used) assert.ok(names.has(m), `${m} is in the README's metrics table`);
    // A relay with the journal and an endpoint serves every series but the NATS ones.
    const relay = await scope.relay([{ name: 'ci', url: 'http://127.0.0.1:9/' }], {
      storage: { path: mkdtempSync(join(tmpdir(), 'relay-monitoring-')) },
    });
    const text = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ''));
    for (const m of used) {
      if (m.startsWith('relay_nats_')) continue;
      assert.ok(served.has(m), `${m} is served by /metrics`);
    }
  });
});
