import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { parseListenAddress } from '../../../src/config/schema.ts';
import { formatDuration, parseByteSize, parseGoDuration } from '../../../src/config/units.ts';
import { ConfigError } from '../../../src/core/errors.ts';

const MAIN = new URL('../../../src/main.ts', import.meta.url).pathname;

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(yaml, 't.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be refused');
}

const oneEndpoint = (fields: string) => `
notifications:
  endpoints:
    - name: ci
      url: http://127.0.0.1:9/hook
${fields
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `      ${l}`)
  .join('\n')}
`;

describe('Go durations', () => {
  it('parses what time.ParseDuration parses', () => {
    assert.equal(parseGoDuration('500ms'), 500e6);
    assert.equal(parseGoDuration('1s'), 1e9);
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('2h45m10.5s'), 2 * 3600e9 + 45 * 60e9 + 10.5e9);
    assert.equal(parseGoDuration('10us'), 10e3);
    assert.equal(parseGoDuration('10µs'), 10e3);
    assert.equal(parseGoDuration('42ns'), 42);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('+3s'), 3e9);
    assert.equal(parseGoDuration('7d'), 7 * 86_400e9);
    assert.equal(parseGoDuration('1d12h'), 36 * 3600e9);
  });
  it('treats a bare number as nanoseconds, as the registry does', () => {
    assert.equal(parseGoDuration(1500000000), 1.5e9);
  });
  it('refuses what Go refuses', () => {
    for (const bad of ['', '5', '1x', 's', '-1s', '1s2', '.s', 'ms', '1 s']) {
      assert.equal(parseGoDuration(bad), undefined, bad);
    }
    assert.equal(parseGoDuration(-1), undefined);
  });
  it('formats durations for humans', () => {
    assert.equal(formatDuration(90e9), '1m30s');
    assert.equal(formatDuration(500e6), '500ms');
  });
});

describe('sizes and addresses', () => {
  it('parses byte sizes', () => {
    assert.equal(parseByteSize('1MiB'), 1048576);
    assert.equal(parseByteSize('512KiB'), 524288);
    assert.equal(parseByteSize('10GB'), 10e9);
    assert.equal(parseByteSize(2048), 2048);
    assert.equal(parseByteSize('1.5kib'), 1536);
    assert.equal(parseByteSize('12 parsecs'), undefined);
  });
  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddress('0.0.0.0:5080'), { host: '0.0.0.0', port: 5080 });
    assert.deepEqual(parseListenAddress(':5080'), { host: '0.0.0.0', port: 5080 });
    assert.deepEqual(parseListenAddress('[::1]:80'), { host: '::1', port: 80 });
    assert.equal(parseListenAddress('5080'), undefined);
    assert.equal(parseListenAddress('a:99999'), undefined);
  });
});

const NONE = { include: [], exclude: [] };
const NO_FILTER = {
  actions: NONE,
  mediatypes: NONE,
  repositories: NONE,
  tags: NONE,
  targets: NONE,
  sources: NONE,
  platforms: NONE,
  artifactTypes: NONE,
  labels: {},
};
/** What an endpoint without the relay-only routing blocks gets. */
const ROUTING_DEFAULTS = {
  filter: NO_FILTER,
  enrich: undefined,
  format: { type: 'envelope' },
  batch: { maxEvents: 1, maxWaitNs: 0 },
  rateLimit: undefined,
  oauth2: undefined,
  signing: undefined,
  tls: undefined,
  proxy: undefined,
  concurrency: 1,
};

describe('config', () => {
  it('applies the registry defaults and the relay defaults', () => {
    const c = parseConfig(oneEndpoint(''), 't.yaml', {});
    assert.deepEqual(c.http.addr, { host: '0.0.0.0', port: 5080 });
    assert.deepEqual(c.http.debug.addr, { host: '0.0.0.0', port: 5081 });
    assert.equal(c.http.maxBodySize, 1048576);
    assert.deepEqual(c.http.auth.tokens, []);
    assert.equal(c.http.dedup.window, 600e9);
    assert.equal(c.http.dedup.maxIds, 100000);
    assert.equal(c.log.level, 'info');
    assert.equal(c.shutdown.timeout, 10e9);
    const [e] = c.notifications.endpoints;
    assert.deepEqual(e, {
      name: 'ci',
      url: 'http://127.0.0.1:9/hook',
      disabled: false,
      headers: {},
      timeoutNs: 1e9,
      threshold: 10,
      backoff: { strategy: 'fixed', delayMs: 1000 },
      ignoredMediaTypes: [],
      ignore: { mediaTypes: [], actions: [] },
      ...ROUTING_DEFAULTS,
      maxPending: 100000,
      retry: { maxAttempts: undefined, maxAgeNs: undefined, maxRetryAfterNs: 300e9 },
    });
    assert.deepEqual(c.storage, {
      sync: 'normal',
      maxSize: 10 * 2 ** 30,
      window: 1000,
    });
  });

  it('reads every field of the registry endpoint schema, unchanged', () => {
    const c = parseConfig(
      `
http:
  addr: 127.0.0.1:6000
  maxBodySize: 2MiB
  debug: {addr: ":6001"}
  auth: {tokens: [one, two]}
  dedup: {window: 1m, maxIds: 10}
log: {level: debug}
shutdown: {timeout: 30s}
storage: {path: /var/lib/relay, sync: full, maxSize: 1GiB, window: 50}
notifications:
  events: {includereferences: true}
  endpoints:
    - name: ci
      url: https://ci.example.com/hooks/registry
      headers: {Authorization: [Bearer abc], X-Multi: [a, b], X-Single: one}
      timeout: 500ms
      threshold: 5
      backoff: 1s
      ignoredmediatypes: [application/octet-stream]
      ignore: {mediatypes: [text/plain], actions: [pull]}
      disabled: true
      queue: {maxPending: 7}
      retry: {maxAttempts: 3, maxAge: 24h}
    - name: nanos
      url: http://b/
      timeout: 1500000000
      backoff: 0
      threshold: 0
      ignore:
`,
      't.yaml',
      {},
    );
    assert.deepEqual(c.http.addr, { host: '127.0.0.1', port: 6000 });
    assert.equal(c.http.maxBodySize, 2 * 1048576);
    assert.deepEqual(c.http.debug.addr, { host: '0.0.0.0', port: 6001 });
    assert.deepEqual(c.http.auth.tokens, ['one', 'two']);
    assert.deepEqual(c.http.dedup, { window: 60e9, maxIds: 10 });
    assert.equal(c.log.level, 'debug');
    assert.equal(c.shutdown.timeout, 30e9);
    const [ci, nanos] = c.notifications.endpoints;
    assert.deepEqual(ci, {
      name: 'ci',
      url: 'https://ci.example.com/hooks/registry',
      disabled: true,
      headers: { Authorization: ['Bearer abc'], 'X-Multi': ['a', 'b'], 'X-Single': ['one'] },
      timeoutNs: 500e6,
      threshold: 5,
      backoff: { strategy: 'fixed', delayMs: 1000 },
      ignoredMediaTypes: ['application/octet-stream'],
      ignore: { mediaTypes: ['text/plain'], actions: ['pull'] },
      ...ROUTING_DEFAULTS,
      maxPending: 7,
      retry: { maxAttempts: 3, maxAgeNs: 24 * 3600e9, maxRetryAfterNs: 300e9 },
    });
    assert.deepEqual(c.storage, {
      path: '/var/lib/relay',
      sync: 'full',
      maxSize: 2 ** 30,
      window: 50,
    });
    // Zero means "use the default" in the registry, for all three.
    assert.ok(nanos);
    assert.equal(nanos.timeoutNs, 1.5e9);
    assert.deepEqual(nanos.backoff, { strategy: 'fixed', delayMs: 1000 });
    assert.equal(nanos.threshold, 10);
    assert.deepEqual(nanos.ignore, { mediaTypes: [], actions: [] });
  });

  it('substitutes ${VAR} from the environment, after parsing', () => {
    const c = parseConfig(
      `
http: {auth: {tokens: ["\${RELAY_TOKEN}"]}}
${oneEndpoint('headers: {Authorization: ["Bearer ${CI_TOKEN}"]}').trim()}
`,
      't.yaml',
      { RELAY_TOKEN: 'tok', CI_TOKEN: 'a: [b]' },
    );
    assert.deepEqual(c.http.auth.tokens, ['tok']);
    assert.deepEqual(c.notifications.endpoints[0]?.headers, { Authorization: ['Bearer a: [b]'] });
  });

  it('names an unset environment variable and where it is used', () => {
    assert.deepEqual(problems(`http: {auth: {tokens: ["\${NOPE}"]}}\n${oneEndpoint('')}`), [
      'http.auth.tokens[0]: environment variable NOPE is not set',
    ]);
  });

  it('refuses unknown keys, naming their path', () => {
    assert.deepEqual(problems(oneEndpoint('timeot: 1s')), [
      'notifications.endpoints[0].timeot: unknown key (check its spelling)',
    ]);
    assert.deepEqual(problems(`htp: {}\n${oneEndpoint('')}`), [
      'htp: unknown key (check its spelling)',
    ]);
  });

  it('refuses duplicate endpoint names', () => {
    const p = problems(`
notifications:
  endpoints:
    - {name: a, url: "http://x/"}
    - {name: b, url: "http://y/"}
    - {name: a, url: "http://z/"}
`);
    assert.deepEqual(p, [
      'notifications.endpoints[2].name: duplicate endpoint name (also used by endpoints[0]) (got "a")',
    ]);
  });

  it('names the field and the value received for each bad value, all at once', () => {
    const p = problems(`
http: {addr: nowhere, maxBodySize: lots}
log: {level: loud}
shutdown: {timeout: 10x}
storage: {sync: sometimes, maxSize: big}
notifications:
  endpoints:
    - name: ci
      url: ftp://x/
      timeout: soon
      threshold: -1
      headers: {A: 3}
      queue: {maxPending: 0}
      retry: {maxAttempts: 0, maxAge: -1h}
`);
    const expect = [
      'http.addr: not a listen address: use "host:port", "[::1]:port" or ":port" (got "nowhere")',
      'http.maxBodySize: not a size: use bytes or e.g. "512KiB", "1MiB" (got "lots")',
      'shutdown.timeout: not a duration: use a Go duration such as "500ms", "1m30s" or "2h" (or days, "7d") (got "10x")',
      'notifications.endpoints[0].url: expected an http:// or https:// URL (got "ftp://x/")',
      'notifications.endpoints[0].timeout: not a duration: use a Go duration such as "500ms", "1m30s" or "2h" (or days, "7d") (got "soon")',
    ];
    for (const line of expect)
      assert.ok(p.includes(line), `missing: ${line}\nin:\n${p.join('\n')}`);
    for (const path of [
      'log.level:',
      'notifications.endpoints[0].threshold:',
      'notifications.endpoints[0].headers.A:',
      'notifications.endpoints[0].queue.maxPending:',
      'notifications.endpoints[0].retry.maxAttempts:',
      'notifications.endpoints[0].retry.maxAge:',
      'storage.sync:',
      'storage.maxSize:',
    ]) {
      assert.ok(
        p.some((l) => l.startsWith(path)),
        `no problem named ${path}\n${p.join('\n')}`,
      );
    }
    assert.ok(p.find((l) => l.startsWith('log.level:'))?.endsWith('(got "loud")'));
  });

  it('needs at least one endpoint, a name and a url', () => {
    assert.deepEqual(problems('notifications: {endpoints: []}'), [
      'notifications.endpoints: configure at least one endpoint (got [])',
    ]);
    const p = problems('notifications: {endpoints: [{url: "http://x/"}, {name: b}]}');
    assert.ok(
      p.some((l) => l.startsWith('notifications.endpoints[0].name:')),
      p.join('\n'),
    );
    assert.ok(
      p.some((l) => l.startsWith('notifications.endpoints[1].url:')),
      p.join('\n'),
    );
    assert.ok(problems('').some((l) => l.includes('expected a mapping')));
  });

  it('bounds http.dedup.maxIds', () => {
    const p = problems(`http: {dedup: {maxIds: 20000000}}\n${oneEndpoint('')}`);
    assert.equal(p.length, 1, p.join('\n'));
    assert.ok(p[0]?.startsWith('http.dedup.maxIds:'), p.join('\n'));
  });

  it('storage.nats: defaults, bad values named, and not together with storage.path', () => {
    const c = parseConfig(
      `storage: {nats: {servers: ["nats://n1:4222"]}}\n${oneEndpoint('')}`,
      't.yaml',
      {},
    );
    assert.deepEqual(c.storage.nats, {
      servers: ['nats://n1:4222'],
      stream: 'registry-relay',
      replicas: 1,
      maxAge: 7 * 24 * 3600e9,
      maxBytes: 0,
      ackWait: 30e9,
      startTimeout: 60e9,
    });
    const p = problems(
      `storage: {path: /data, nats: {servers: ["n1:4222"], stream: "a.b", replicas: 7}}\n${oneEndpoint('')}`,
    );
    for (const key of ['servers[0]', 'stream', 'replicas']) {
      assert.ok(
        p.some((l) => l.startsWith(`storage.nats.${key}:`)),
        `${key} named in:\n${p.join('\n')}`,
      );
    }
    assert.ok(p.some((l) => l.startsWith('storage.nats: storage.path (the SQLite journal)')));
  });

  it('storage.nats: one way to authenticate; TLS files read and checked at load', () => {
    const two = problems(
      `storage: {nats: {servers: ["nats://n1:4222"], token: t, nkey: /etc/relay.nk}}\n${oneEndpoint('')}`,
    );
    assert.deepEqual(two, [
      'storage.nats.nkey: one way to authenticate: token and nkey are both set (got "/etc/relay.nk")',
    ]);
    const tls = problems(
      `storage: {nats: {servers: ["tls://n1:4222"], tls: {ca: /nonexistent/ca.pem}}}\n${oneEndpoint('')}`,
    );
    assert.equal(tls.length, 1, tls.join('\n'));
    assert.match(tls[0] ?? '', /^storage\.nats\.tls\.ca: cannot read \/nonexistent\/ca\.pem/);
  });

  it('reports YAML syntax errors and duplicate keys', () => {
    assert.match(problems('a: [')[0] ?? '', /^YAML: /);
    assert.match(problems('log: {}\nlog: {}\n')[0] ?? '', /^YAML: .*unique/i);
  });
});

describe('config: routing and payload blocks', () => {
  const endpointOf = (fields: string) => {
    const [e] = parseConfig(oneEndpoint(fields), 't.yaml', {}).notifications.endpoints;
    assert.ok(e);
    return e;
  };

  it('reads filter, format, batch, signing, proxy, concurrency and backoff', () => {
    const e = endpointOf(`
filter:
  actions: [push]
  tags: {include: ["v*"], exclude: [/-rc/]}
format: {type: cloudevents, mode: batched, source: //registry.example.com}
batch: {maxEvents: 50, maxWait: 2s}
signing: {secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]}
proxy: http://proxy.internal:3128
concurrency: 8
backoff: {strategy: exponential, initial: 500ms, max: 1m}
retry: {maxRetryAfter: 30s}
`);
    assert.deepEqual(e.filter.actions, { include: ['push'], exclude: [] });
    assert.deepEqual(e.filter.tags, { include: ['v*'], exclude: ['/-rc/'] });
    assert.deepEqual(e.format, {
      type: 'cloudevents',
      mode: 'batched',
      source: '//registry.example.com',
    });
    assert.deepEqual(e.batch, { maxEvents: 50, maxWaitNs: 2e9 });
    assert.deepEqual(e.signing, { secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] });
    assert.equal(e.proxy, 'http://proxy.internal:3128');
    assert.equal(e.concurrency, 8);
    assert.deepEqual(e.backoff, {
      strategy: 'exponential',
      initialMs: 500,
      maxMs: 60_000,
      jitter: 0.2,
    });
    assert.equal(e.retry.maxRetryAfterNs, 30e9);
    assert.deepEqual(endpointOf('format: slack').format, { type: 'slack' });
  });

  it('names each bad block, with the endpoint where a pattern or template is wrong', () => {
    const lines = problems(`
notifications:
  endpoints:
    - name: ci
      url: http://127.0.0.1:9/hook
      format: {type: template, body: {text: "{{ event.target.repo }} {{ tag }}"}}
    - name: chat
      url: http://127.0.0.1:9/hook
      format: {type: template, body: {text: "{{ tag }}"}}
      batch: {maxEvents: 10}
    - name: router
      url: http://127.0.0.1:9/hook
      format: cloudevents
      batch: {maxEvents: 10}
    - name: signed
      url: http://127.0.0.1:9/hook
      signing: {secret: "whsec_c2hvcnQ="}
      headers: {Webhook-Signature: [forged]}
    - name: tls
      url: https://127.0.0.1:9/hook
      tls: {ca: /nonexistent/ca.pem}
    - name: backoff
      url: http://127.0.0.1:9/hook
      backoff: {strategy: exponential, initial: 1m, max: 1s, jitter: 2}
      format: xml
`);
    const expected = [
      /^notifications\.endpoints\[0\]\.format\.body: endpoint "ci": body\.text: \{\{ event\.target\.repo \}\}: a registry event has no such field/,
      /^notifications\.endpoints\[1\]\.batch\.maxEvents: endpoint "chat": a template renders one event per request/,
      /^notifications\.endpoints\[2\]\.batch\.maxEvents: endpoint "router": CloudEvents binary mode carries one event per request; use format\.mode: batched/,
      /^notifications\.endpoints\[3\]\.signing\.secret: the key is 5 bytes; Standard Webhooks asks for 24 to 64 \(value not shown: it may be a secret\)$/,
      /^notifications\.endpoints\[4\]\.tls\.ca: cannot read \/nonexistent\/ca\.pem: ENOENT/,
      /^notifications\.endpoints\[5\]\.backoff\.jitter: .*(1|<=)/,
      /^notifications\.endpoints\[5\]\.format: expected envelope, cloudevents, slack, template \(got "xml"\)/,
    ];
    for (const re of expected)
      assert.ok(
        lines.some((l) => re.test(l)),
        `${re}\nin:\n${lines.join('\n')}`,
      );
    assert.ok(!lines.join('\n').includes('c2hvcnQ'), 'a secret is never echoed');
  });
});

describe('registry-relay check-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });

  it('exits 0 for a valid file and 2, naming each problem, for an invalid one', () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, oneEndpoint(''));
    const ok = run('check-config', good);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /valid \(1 endpoints: ci\)/);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, oneEndpoint('threshold: many\nbackof: 1s'));
    const ko = run('check-config', bad);
    assert.equal(ko.status, 2);
    assert.match(ko.stderr, /notifications\.endpoints\[0\]\.threshold: .*\(got "many"\)/);
    assert.match(ko.stderr, /notifications\.endpoints\[0\]\.backof: unknown key/);
  });

  it('exits 2 without listening when the daemon is given a bad config or none', () => {
    const bad = join(dir, 'bad2.yaml');
    writeFileSync(bad, 'notifications: {endpoints: []}');
    const ko = run('--config', bad);
    assert.equal(ko.status, 2);
    assert.match(ko.stderr, /configure at least one endpoint/);
    assert.doesNotMatch(ko.stdout, /listening/);
    const none = run();
    assert.equal(none.status, 2);
    assert.match(none.stderr, /RELAY_CONFIG/);
    const missing = run('check-config', join(dir, 'absent.yaml'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read the file/);
  });

  it('names every problem in one pass, across fields and endpoints', () => {
    const file = join(dir, 'many.yaml');
    writeFileSync(
      file,
      `
http: {addr: "127.0.0.1:5080", debug: {addr: ":5080"}}
notifications:
  endpoints:
    - name: ci
      url: http://127.0.0.1:9/hook
      timeout: soon
      filter: {repositories: ["/([/"]}
    - name: ci
      url: http://127.0.0.1:9/hook
      threshold: many
      format: {type: template, body: {text: "{{ event.nosuch }}"}}
      batch: {maxEvents: 5}
`,
    );
    const ko = run('check-config', file);
    assert.equal(ko.status, 2);
    for (const re of [
      /http\.debug\.addr: the ops listener and ingest \(http\.addr\) cannot share port 5080/,
      /endpoints\[0\]\.timeout: not a duration/,
      /endpoints\[0\]\.filter\.repositories\.include\[0\]: endpoint "ci": not a regular expression/,
      /endpoints\[1\]\.name: duplicate endpoint name \(also used by endpoints\[0\]\)/,
      /endpoints\[1\]\.threshold: /,
      /endpoints\[1\]\.format\.body: endpoint "ci": .*event\.nosuch/,
      /endpoints\[1\]\.batch\.maxEvents: endpoint "ci": a template renders one event per request/,
    ]) {
      assert.match(ko.stderr, re);
    }
  });

  it('prints its version', () => {
    const v = run('--version');
    assert.equal(v.status, 0, v.stderr);
    const pkg = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    assert.equal(v.stdout, `registry-relay ${pkg.version}\n`);
  });

  it('validates the shipped config', () => {
    const shipped = run(
      'check-config',
      new URL('../../../config/relay.yaml', import.meta.url).pathname,
    );
    assert.equal(shipped.status, 0, shipped.stderr);
  });
});

describe('registries and enrichment in the config', () => {
  const endpoint = (extra: string) =>
    `notifications: {endpoints: [{name: a, url: "http://127.0.0.1:9/", ${extra}}]}`;

  it('compiles a registry: hosts default to the URL host, credentials become an auth kind, defaults applied', () => {
    const config = parseConfig(
      `registries:\n  - {name: prod, url: "https://registry.example.com/", auth: {username: relay, password: "\${PW}"}}\n  - {name: hub, url: "https://registry-1.docker.io", hosts: [docker.io, registry-1.docker.io], auth: {token: t}}\n${endpoint('enrich: [platforms, referrers]')}`,
      'test.yaml',
      { PW: 'secret' },
    );
    const [prod, hub] = config.registries;
    assert.ok(prod && hub);
    assert.equal(prod.url, 'https://registry.example.com');
    assert.deepEqual(prod.hosts, ['registry.example.com']);
    assert.deepEqual(prod.auth, { kind: 'basic', username: 'relay', password: 'secret' });
    assert.equal(prod.timeoutMs, 5000);
    assert.equal(prod.waitMs, 5000);
    assert.equal(prod.concurrency, 8);
    assert.deepEqual(hub.auth, { kind: 'bearer', token: 't' });
    assert.deepEqual(
      [...(config.notifications.endpoints[0]?.enrich?.facts ?? [])],
      ['platforms', 'referrers'],
    );
  });

  it('a fact filter asks for the facts it decides on', () => {
    const config = parseConfig(
      `registries: [{name: r, url: "http://r:5000"}]\n${endpoint('filter: {platforms: [linux/arm64], signed: true, labels: {team: pay*}}')}`,
      'test.yaml',
      {},
    );
    assert.deepEqual([...(config.notifications.endpoints[0]?.enrich?.facts ?? [])].sort(), [
      'labels',
      'platforms',
      'referrers',
    ]);
  });

  it('names what is wrong: no registries for enrich, an unknown fact, a source naming no registry, half a basic auth, one host twice, a bad pattern', () => {
    assert.deepEqual(problems(endpoint('enrich: true')), [
      'notifications.endpoints[0].enrich: enrich needs facts from a registry: configure one under registries (got true)',
    ]);
    assert.deepEqual(problems(endpoint('filter: {signed: true}')), [
      'notifications.endpoints[0].filter: filter.signed needs facts from a registry: configure one under registries (got {"signed":true})',
    ]);
    const reg = 'registries: [{name: r, url: "http://r:5000"}]\n';
    assert.ok(
      problems(`${reg}${endpoint('enrich: [platfroms]')}`).some((p) =>
        p.startsWith('notifications.endpoints[0].enrich.facts[0]: expected all or one of'),
      ),
    );
    assert.ok(
      problems(
        `${reg}sources: [{name: q, type: quay, auth: {none: true}, registry: nope}]\n${endpoint('')}`,
      ).some((p) => p.startsWith('sources[0].registry: no registry is named nope')),
    );
    assert.ok(
      problems(
        `registries: [{name: r, url: "http://r", auth: {username: u}}]\n${endpoint('')}`,
      ).some((p) => p.startsWith('registries[0].auth.password: basic auth needs both')),
    );
    assert.ok(
      problems(
        `registries: [{name: a, url: "http://r"}, {name: b, url: "http://r"}]\n${endpoint('')}`,
      ).some((p) => p.startsWith('registries[1].hosts[0]: host r is served by registries[0]')),
    );
    assert.ok(
      problems(`${reg}${endpoint('filter: {platforms: ["/[/"]}')}`).some((p) =>
        p.startsWith('notifications.endpoints[0].filter.platforms.include[0]'),
      ),
    );
    assert.ok(
      problems(`registries: [{name: r, url: "ftp://r"}]\n${endpoint('')}`).some((p) =>
        p.startsWith('registries[0].url:'),
      ),
    );
  });

  it('never shows a registry password in a problem', () => {
    const p = problems(
      `registries: [{name: r, url: "http://r", auth: {username: u, password: 7, token: 8}}]\n${endpoint('')}`,
    );
    assert.ok(
      p.some((l) => l.startsWith('registries[0].auth.password')),
      p.join('\n'),
    );
    assert.ok(!p.some((l) => l.includes('7') || l.includes('8')), p.join('\n'));
  });
});
