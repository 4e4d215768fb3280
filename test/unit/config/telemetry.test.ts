import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { tracingPlan, type TelemetryConfig } from '../../../src/config/telemetry.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { startTestRelay } from '../../support/helpers.ts';

const ENDPOINTS = `
notifications:
  endpoints:
    - name: ci
      url: http://127.0.0.1:9/hook
`;

function telemetry(yaml = ''): TelemetryConfig {
  return parseConfig(`${yaml}\n${ENDPOINTS}`, 't.yaml', {}).telemetry;
}

function refused(yaml: string, env: NodeJS.ProcessEnv): readonly string[] {
  try {
    parseConfig(`${yaml}\n${ENDPOINTS}`, 't.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be refused');
}

describe('telemetry.tracing and the OTEL_* variables', () => {
  it('is off without the block and without variables', () => {
    assert.equal(tracingPlan(telemetry(), {}), undefined);
    assert.equal(tracingPlan(telemetry(), { OTEL_SERVICE_NAME: 'x' }), undefined);
  });

  it('is on when an OTLP endpoint variable is set, with the signal path added to the base URL', () => {
    const plan = tracingPlan(telemetry(), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
    });
    assert.equal(plan?.url, 'http://collector:4318/v1/traces');
    const specific = tracingPlan(telemetry(), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
    });
    assert.equal(specific?.url, 'https://traces.example/otlp', 'the traces URL is used as it is');
  });

  it('is on with OTEL_TRACES_EXPORTER=otlp (the default URL), off with none or OTEL_SDK_DISABLED', () => {
    assert.equal(
      tracingPlan(telemetry(), { OTEL_TRACES_EXPORTER: 'otlp' })?.url,
      'http://localhost:4318/v1/traces',
    );
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    assert.equal(tracingPlan(telemetry(), { ...base, OTEL_TRACES_EXPORTER: 'none' }), undefined);
    assert.equal(tracingPlan(telemetry(), { ...base, OTEL_SDK_DISABLED: 'true' }), undefined);
  });

  it('lets the block win over the variables, field by field', () => {
    const config = telemetry(`
telemetry:
  tracing:
    enabled: true
    endpoint: http://collector.internal:4318/v1/traces
    headers: { x-api-key: from-config }
    serviceName: registry-relay-eu
    sampleRatio: 0.25
`);
    const plan = tracingPlan(config, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://elsewhere:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=from-env,x-tenant=blue',
      OTEL_SERVICE_NAME: 'from-env',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=ignored',
      OTEL_TRACES_SAMPLER: 'always_off',
      OTEL_SDK_DISABLED: 'true',
    });
    assert.ok(plan, 'enabled: true wins over OTEL_SDK_DISABLED');
    assert.equal(plan.url, 'http://collector.internal:4318/v1/traces');
    assert.deepEqual(plan.headers, { 'x-api-key': 'from-config', 'x-tenant': 'blue' });
    assert.equal(plan.resource['service.name'], 'registry-relay-eu');
    assert.equal(plan.resource['deployment.environment'], 'prod');
    assert.deepEqual(plan.sampler, { root: 'traceidratio', ratio: 0.25, parentBased: true });
    const off = telemetry('telemetry: { tracing: { enabled: false } }');
    assert.equal(tracingPlan(off, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), undefined);
  });

  it('reads the sampler, service name and timeout from the variables', () => {
    const plan = tracingPlan(telemetry(), {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      OTEL_SERVICE_NAME: 'relay-a',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
    });
    assert.deepEqual(plan?.sampler, { root: 'traceidratio', ratio: 0.1, parentBased: true });
    assert.equal(plan.resource['service.name'], 'relay-a');
    assert.equal(plan.timeoutMs, 2500);
    const defaults = tracingPlan(telemetry(), { OTEL_TRACES_EXPORTER: 'otlp' });
    assert.equal(defaults?.resource['service.name'], 'registry-relay');
    assert.deepEqual(defaults.sampler, { root: 'always_on', ratio: 1, parentBased: true });
  });

  it('refuses, at load, a variable the relay cannot honour, naming it', () => {
    const on = { OTEL_TRACES_EXPORTER: 'otlp' };
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /^OTEL_TRACES_EXPORTER: zipkin is not an exporter/],
      [
        { ...on, OTEL_TRACES_SAMPLER: 'sometimes' },
        /^OTEL_TRACES_SAMPLER: "sometimes" is not one of/,
      ],
      [
        { ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' },
        /^OTEL_TRACES_SAMPLER_ARG: "2" is not a ratio/,
      ],
      [{ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /^OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"/],
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' },
        /^OTEL_EXPORTER_OTLP_ENDPOINT: .* is not an http\(s\) URL/,
      ],
      [{ ...on, OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' }, /^OTEL_EXPORTER_OTLP_TIMEOUT: "soon"/],
    ];
    for (const [env, expected] of cases) {
      const problems = refused('', env);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0] ?? '', expected);
    }
  });

  it('refuses a bad block with the path of the field', () => {
    const problems = refused(
      'telemetry: { tracing: { endpoint: "grpc://collector:4317", sampleRatio: 2, colour: red } }',
      {},
    );
    assert.ok(
      problems.some((p) => p.startsWith('telemetry.tracing.endpoint:')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('telemetry.tracing.sampleRatio:')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('colour')),
      problems.join('\n'),
    );
  });

  it('off, a running relay has not loaded the OpenTelemetry SDK at all', async () => {
    const relay = await startTestRelay([{ name: 'a', url: 'http://127.0.0.1:9/' }]);
    await relay.stop();
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    assert.ok(loaded.length > 0, 'the CommonJS cache is where the SDK would be');
    // The API alone (prom-client's dependency, for exemplars) is loaded either way.
    assert.ok(loaded.some((f) => f.includes('@opentelemetry/api/')));
    assert.deepEqual(
      loaded.filter((f) => f.includes('@opentelemetry') && !f.includes('@opentelemetry/api/')),
      [],
    );
  });

  it('names a malformed OTEL_RESOURCE_ATTRIBUTES entry', () => {
    const problems = refused('', {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_RESOURCE_ATTRIBUTES: 'team=platform,oops,site=%E0%A4%A',
    });
    assert.deepEqual(problems, [
      'OTEL_RESOURCE_ATTRIBUTES: "oops" is not key=value (percent-encoded)',
      'OTEL_RESOURCE_ATTRIBUTES: "site=%E0%A4%A" is not key=value (percent-encoded)',
    ]);
  });
});
