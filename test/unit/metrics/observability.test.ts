import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  envelope,
  pushEvent,
  startReceiver,
  startTestRelay,
  waitUntil,
} from '../../support/helpers.ts';

const SIGNING_KEY = Buffer.from('signing-secret-not-to-be-shown!!').toString('base64');
const SECRETS = [
  'header-secret-1',
  'header-secret-2',
  'path-secret-xyz',
  'query-secret-xyz',
  'ingest-token-xyz',
  'url-password',
  SIGNING_KEY,
];

describe('metrics, health and redaction', async () => {
  let status = 500;
  const rx = await startReceiver((_req, res) => res.writeHead(status).end());
  const r = await startTestRelay(
    [
      {
        name: 'ci',
        // A webhook URL with its secret in the path and query, as Slack's and many others.
        url: `${rx.url.replace('http://', 'http://bot:url-password@')}/T0/path-secret-xyz?token=query-secret-xyz`,
        headers: {
          Authorization: ['Bearer header-secret-1'],
          'X-Api-Key': ['header-secret-2', 'x'],
        },
        timeout: '500ms',
        threshold: 2,
        backoff: '50ms',
        ignoredmediatypes: ['application/octet-stream'],
        ignore: { actions: ['pull'] },
        signing: { secret: `whsec_${SIGNING_KEY}` },
      },
    ],
    { http: { auth: { tokens: ['${TOKEN}'] } } },
    { env: { TOKEN: 'ingest-token-xyz' } },
  );
  after(async () => {
    await r.stop();
    await rx.close();
  });

  const auth = { authorization: 'Bearer ingest-token-xyz' };
  const e = pushEvent();
  await r.post(envelope(e), auth);
  await r.post(envelope(pushEvent()), { authorization: 'Bearer wrong' });
  await r.post(envelope(e), auth); // duplicate
  await rx.waitFor(2); // two 500s at once (threshold 2), then backing off 50ms
  status = 202;
  await waitUntil(() => r.relay.endpoints[0]?.stats.pending === 0, 10_000, 'delivery');

  it('serves /debug/vars in the registry expvar shape, header values redacted', async () => {
    const v = await r.vars();
    const [ep] = v.registry.notifications.endpoints;
    assert.ok(ep);
    assert.equal(ep.name, 'ci');
    // Scheme, host and port, and a fingerprint of the rest.
    assert.match(ep.url, new RegExp(`^http://127\\.0\\.0\\.1:${String(rx.port)}/…#[0-9a-f]{8}$`));
    assert.deepEqual(ep.Headers, {
      Authorization: ['<redacted>'],
      'X-Api-Key': ['<redacted>', '<redacted>'],
    });
    assert.equal(ep.Timeout, 500_000_000);
    assert.equal(ep.Threshold, 2);
    assert.equal(ep.Backoff, 50_000_000);
    assert.deepEqual(ep.IgnoredMediaTypes, ['application/octet-stream']);
    assert.deepEqual(ep.Ignore, { MediaTypes: null, Actions: ['pull'] });
    assert.deepEqual(ep.Metrics, {
      Pending: 0,
      Events: 1,
      Successes: 1,
      Failures: 2,
      Errors: 0,
      Statuses: { '500 Internal Server Error': 2, '202 Accepted': 1 },
    });
    assert.equal(v.relay.ingest.events, 1);
    assert.equal(v.relay.ingest.duplicates, 1);
    assert.deepEqual(v.relay.ingest.requests, { '202': 2, '401': 1 });
    const rel = v.relay.endpoints[0] as unknown as {
      Dropped: number;
      DeliveryLatency: { Count: number };
    };
    assert.equal(rel.Dropped, 0);
    assert.equal(rel.DeliveryLatency.Count, 1);
    assert.ok(Array.isArray(v.cmdline));
    assert.ok(v.memstats['HeapAlloc'] !== undefined && v.memstats['HeapAlloc'] > 0);
  });

  it('serves the registry Prometheus names and the relay figures on /metrics', async () => {
    const res = await fetch(`${r.debugUrl}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const line of [
      'registry_notifications_events_total{type="Events",endpoint="ci"} 1',
      'registry_notifications_events_total{type="Successes",endpoint="ci"} 1',
      'registry_notifications_events_total{type="Failures",endpoint="ci"} 2',
      'registry_notifications_events_total{type="Errors",endpoint="ci"} 0',
      'registry_notifications_pending_total{endpoint="ci"} 0',
      'registry_notifications_status_total{code="500 Internal Server Error",endpoint="ci"} 2',
      'registry_notifications_status_total{code="202 Accepted",endpoint="ci"} 1',
      'relay_events_dropped_total{endpoint="ci"} 0',
      'relay_duplicate_events_total 1',
      'relay_ingest_events_total 1',
      'relay_ingest_requests_total{code="401"} 1',
      'relay_delivery_latency_seconds_count{endpoint="ci"} 1',
      'relay_attempt_duration_seconds_count{endpoint="ci",outcome="failure"} 2',
      '# TYPE registry_notifications_pending_total gauge',
    ]) {
      assert.ok(text.includes(line), `missing: ${line}`);
    }
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('never shows a secret in /debug/vars, /metrics or any log line', async () => {
    const vars = JSON.stringify(await r.vars());
    const metrics = await (await fetch(`${r.debugUrl}/metrics`)).text();
    assert.ok(r.lines.length > 3, 'the relay logged the failures');
    for (const secret of SECRETS) {
      assert.ok(!vars.includes(secret), `/debug/vars shows ${secret}`);
      assert.ok(!metrics.includes(secret), `/metrics shows ${secret}`);
      for (const line of r.lines) assert.ok(!line.includes(secret), `log shows ${secret}: ${line}`);
    }
  });

  it('logs one line per failed attempt with endpoint, event id, status and attempt', () => {
    const failures = r.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'delivery attempt failed: answered 500 Internal Server Error');
    assert.deepEqual(
      failures.map((f) => [f['endpoint'], f['eventId'], f['status'], f['attempt']]),
      [
        ['ci', e['id'], 500, 1],
        ['ci', e['id'], 500, 2],
      ],
    );
  });

  it('answers /healthz, and /readyz until shutdown begins', async () => {
    assert.equal((await fetch(`${r.debugUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${r.debugUrl}/readyz`)).status, 200);
    r.relay.beginShutdown();
    const ready = await fetch(`${r.debugUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await fetch(`${r.debugUrl}/healthz`)).status, 200);
  });
});
