// The deployment files, checked as far as this machine can without Docker or a cluster:
// every file parses; every relay config in them is one the relay accepts; each Kubernetes
// object validates against the Kubernetes API schema (kubernetes-models); and the names
// that tie the pieces together (services, volumes, ports, selectors, config paths, NATS
// servers) point at something that exists.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseAllDocuments, parse } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import type { RelayConfig } from '../../src/config/schema.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Every document of a YAML file, failing on any syntax error or warning. */
function documents(path: string): Obj[] {
  // Merge keys (`<<: *anchor`) as docker compose reads them.
  const docs = parseAllDocuments(readFileSync(join(ROOT, path), 'utf8'), { merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    assert.deepEqual(
      [...d.errors, ...d.warnings].map((e) => e.message),
      [],
      `${path} parses cleanly`,
    );
  }
  return list.map((d) => obj(d.toJS()));
}

function relayConfig(text: string, where: string): RelayConfig {
  return parseConfig(text, where, {});
}

const hostOf = (url: string): string => new URL(url).hostname;

describe('docker compose files', () => {
  for (const [file, relayFile] of [
    ['docker-compose.yml', 'deploy/relay.yaml'],
    ['deploy/ha/docker-compose.yml', 'deploy/ha/relay.yaml'],
  ] as const) {
    it(`${file}: services, volumes, mounts and the registry's endpoint fit together`, () => {
      const [compose] = documents(file);
      const dir = dirname(join(ROOT, file));
      const services = obj(compose?.['services']);
      const names = new Set(Object.keys(services));
      const aliases = new Set(
        Object.values(services).flatMap((s) =>
          Object.values(obj(obj(s)['networks'])).flatMap((n) => arr(obj(n)['aliases'])),
        ),
      );
      const volumes = new Set(Object.keys(obj(compose?.['volumes'])));
      for (const [name, s] of Object.entries(services)) {
        const service = obj(s);
        for (const dep of Object.keys(obj(service['depends_on']))) {
          assert.ok(names.has(dep), `${name} depends on ${dep}, a service`);
        }
        for (const v of arr(service['volumes']).map(String)) {
          const source = v.split(':')[0] ?? '';
          if (source.startsWith('.')) {
            assert.ok(existsSync(join(dir, source)), `${name} mounts ${source}, which exists`);
          } else {
            assert.ok(volumes.has(source), `${name} uses volume ${source}, declared`);
          }
        }
        if (service['build'] !== undefined) {
          const context = join(dir, typeof service['build'] === 'string' ? service['build'] : '');
          assert.ok(existsSync(join(context, 'Dockerfile')), `${name} builds ${context}`);
        }
      }
      const relay = relayConfig(readFileSync(join(ROOT, relayFile), 'utf8'), relayFile);
      const registryFile = file.startsWith('deploy/ha')
        ? 'deploy/ha/registry.yml'
        : 'deploy/registry.yml';
      const registry = obj(parse(readFileSync(join(ROOT, registryFile), 'utf8')));
      const endpoints = arr(obj(registry['notifications'])['endpoints']).map(obj);
      assert.equal(endpoints.length, 1, 'the registry notifies the relay only');
      const url = new URL(String(endpoints[0]?.['url']));
      assert.ok(
        names.has(url.hostname) || aliases.has(url.hostname),
        `the registry posts to ${url.hostname}, a service or alias`,
      );
      assert.equal(Number(url.port), relay.http.addr.port, 'to the relay ingest port');
      assert.equal(url.pathname, '/events');
      for (const e of relay.notifications.endpoints) {
        assert.ok(names.has(hostOf(e.url)), `endpoint ${e.name} posts to a service`);
      }
      const nats = relay.storage.nats;
      if (file.startsWith('deploy/ha')) {
        assert.ok(nats !== undefined, 'the HA relays share NATS');
        assert.equal(nats.replicas, 3);
        assert.deepEqual(
          nats.servers.map(hostOf).sort(),
          ['nats-1', 'nats-2', 'nats-3'],
          'every NATS node is a service',
        );
        for (const n of ['nats-1', 'nats-2', 'nats-3']) assert.ok(names.has(n));
        const relays = [...names].filter((n) => n.startsWith('relay-'));
        assert.equal(relays.length, 2, 'two relays');
        for (const r of relays) {
          const mounts = arr(obj(services[r])['volumes']).map(String);
          assert.ok(mounts.includes('./relay.yaml:/etc/registry-relay/config.yml:ro'));
        }
        assert.ok(aliases.has('relay'), 'both relays answer to `relay`');
      } else {
        assert.equal(relay.storage.path, '/app/data');
      }
    });
  }
});

/** Validates one Kubernetes object with the API schema of its kind. */
function validate(doc: Obj, where: string): void {
  const kinds: Record<string, new (d: never) => { validate(): void }> = {
    'v1/ConfigMap': ConfigMap,
    'v1/Service': Service,
    'apps/v1/Deployment': Deployment,
    'apps/v1/StatefulSet': StatefulSet,
    'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  };
  const key = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
  const Kind = kinds[key];
  assert.ok(Kind !== undefined, `${where}: ${key} is a kind this test knows`);
  new Kind(doc as never).validate();
}

describe('Kubernetes manifests', () => {
  for (const shape of ['journal', 'jetstream'] as const) {
    it(`${shape}: valid objects whose names, labels, ports and config agree`, () => {
      const dir = `deploy/kubernetes/${shape}`;
      const [kustomization] = documents(`${dir}/kustomization.yaml`);
      const docs = arr(kustomization?.['resources']).flatMap((r) => {
        assert.ok(existsSync(join(ROOT, dir, String(r))), `${String(r)} exists`);
        return documents(`${dir}/${String(r)}`);
      });
      for (const d of docs) validate(d, dir);
      const named = (kind: string, name: string): Obj => {
        const found = docs.find((d) => d['kind'] === kind && obj(d['metadata'])['name'] === name);
        assert.ok(found, `${dir} has ${kind} ${name}`);
        return found;
      };
      const workloads = docs.filter((d) =>
        ['Deployment', 'StatefulSet'].includes(String(d['kind'])),
      );
      for (const w of workloads) {
        const spec = obj(w['spec']);
        const labels = obj(obj(obj(spec['template'])['metadata'])['labels']);
        for (const [k, v] of Object.entries(obj(obj(spec['selector'])['matchLabels']))) {
          assert.equal(labels[k], v, 'the selector matches the pod template');
        }
        const pod = obj(obj(spec['template'])['spec']);
        const volumeNames = new Set([
          ...arr(pod['volumes']).map((v) => obj(v)['name']),
          ...arr(spec['volumeClaimTemplates']).map((v) => obj(obj(v)['metadata'])['name']),
        ]);
        for (const v of arr(pod['volumes']).map(obj)) {
          const cm = obj(v['configMap'])['name'];
          if (typeof cm === 'string') named('ConfigMap', cm);
        }
        for (const c of arr(pod['containers']).map(obj)) {
          const ports = new Set(arr(c['ports']).map((p) => obj(p)['name']));
          for (const probe of ['livenessProbe', 'readinessProbe']) {
            const port = obj(obj(c[probe])['httpGet'])['port'];
            assert.ok(ports.has(port), `${probe} on a named port of the container`);
          }
          for (const m of arr(c['volumeMounts']).map(obj)) {
            assert.ok(volumeNames.has(m['name']), `mount ${String(m['name'])} is a volume`);
          }
        }
      }
      for (const s of docs.filter((d) => d['kind'] === 'Service')) {
        const selector = obj(obj(s['spec'])['selector']);
        const target = workloads.find((w) => {
          const labels = obj(obj(obj(obj(w['spec'])['template'])['metadata'])['labels']);
          return Object.entries(selector).every(([k, v]) => labels[k] === v);
        });
        assert.ok(target, `Service ${String(obj(s['metadata'])['name'])} selects a workload`);
        const container = obj(
          arr(obj(obj(obj(target['spec'])['template'])['spec'])['containers'])[0],
        );
        const portNames = new Set(arr(container['ports']).map((p) => obj(p)['name']));
        for (const p of arr(obj(s['spec'])['ports']).map(obj)) {
          assert.ok(portNames.has(p['targetPort']), `targetPort ${String(p['targetPort'])} exists`);
        }
      }

      // The relay: its config is valid, and the pod runs it on the ports it listens on.
      const relayKind = shape === 'journal' ? 'StatefulSet' : 'Deployment';
      const relay = named(relayKind, 'registry-relay');
      const cm = obj(named('ConfigMap', 'registry-relay')['data']);
      const config = relayConfig(String(cm['relay.yaml']), `${dir} ConfigMap relay.yaml`);
      const pod = obj(obj(obj(relay['spec'])['template'])['spec']);
      const container = obj(arr(pod['containers'])[0]);
      const mounts = arr(container['volumeMounts']).map(obj);
      const configMount = mounts.find((m) => m['name'] === 'config');
      assert.deepEqual(container['args'], [
        '--config',
        `${String(configMount?.['mountPath'])}/relay.yaml`,
      ]);
      const ports = new Map(
        arr(container['ports']).map((p) => [obj(p)['name'], obj(p)['containerPort']]),
      );
      assert.equal(ports.get('ingest'), config.http.addr.port);
      assert.equal(ports.get('ops'), config.http.debug.addr.port);
      const grace = Number(pod['terminationGracePeriodSeconds']);
      assert.ok(grace * 1e9 > config.shutdown.timeout, 'the pod waits longer than the drain');
      if (shape === 'journal') {
        assert.equal(obj(relay['spec'])['replicas'], 1, 'one process owns the journal');
        const data = mounts.find((m) => m['name'] === 'data');
        assert.equal(config.storage.path, data?.['mountPath'], 'the journal is on the volume');
      } else {
        const nats = config.storage.nats;
        assert.ok(nats !== undefined);
        const sts = named('StatefulSet', 'nats');
        const replicas = Number(obj(sts['spec'])['replicas']);
        assert.equal(nats.replicas, 3);
        assert.equal(replicas, 3);
        const service = String(obj(sts['spec'])['serviceName']);
        named('Service', service);
        for (const server of nats.servers) {
          const m = /^(nats)-(\d+)\.([a-z0-9-]+)$/.exec(hostOf(server));
          assert.ok(m, `${server} names a pod of the NATS StatefulSet`);
          assert.ok(Number(m[2]) < replicas && m[3] === service);
          assert.equal(new URL(server).port, '4222');
        }
        const natsConf = String(obj(named('ConfigMap', 'nats')['data'])['nats.conf']);
        for (let i = 0; i < replicas; i++) {
          assert.ok(natsConf.includes(`nats://nats-${String(i)}.${service}:6222`), 'routes');
        }
        assert.ok(Number(obj(relay['spec'])['replicas']) >= 2, 'several relays');
      }
    });
  }
});
