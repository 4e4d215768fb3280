// OpenTelemetry traces end to end, against an OTLP/HTTP receiver in the test: a
// traceparent sent with an event continues into the relay's ingest span, every delivery
// attempt is a span in that trace, and the receiver's request carries the attempt's
// traceparent; with the journal or NATS the same holds for a delivery made after a kill
// and restart, by another process.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closedAfterTests, envelope, pushEvent, V1, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats, type NatsCluster } from '../support/nats-process.ts';
import {
  idsOf,
  newTraceparent,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../support/otlp-receiver.ts';
import { spawnRelay } from '../support/relay-process.ts';

const scope = closedAfterTests();
let otlp: OtlpReceiver;
before(async () => {
  otlp = await startOtlpReceiver();
});
after(async () => {
  await otlp.close();
});

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

const inTrace = (spans: readonly ReceivedSpan[], traceId: string) =>
  spans.filter((s) => s.traceId === traceId);

describe('tracing', () => {
  it('continues the sender’s trace: ingest span, one span per attempt, traceparent to the receiver', async () => {
    let calls = 0;
    const rx = await scope.receiver((_req, res) => {
      calls += 1;
      // The first attempt fails: the second is a span of its own, in the same trace.
      if (calls === 1) res.writeHead(500).end('not yet');
      else res.writeHead(200).end();
    });
    const relay = await scope.relay(
      [{ name: 'consumer', url: rx.url, backoff: '20ms', threshold: 1 }],
      {},
      {
        // Configured the standard way, with the OTEL_* variables only.
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.base,
          OTEL_SERVICE_NAME: 'relay-under-test',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
        },
      },
    );
    const sent = newTraceparent();
    const event = pushEvent();
    const res = await relay.post(envelope(event), { traceparent: sent.traceparent });
    assert.equal(res.status, 202);
    await rx.waitFor(2);

    const spans = await otlp.waitFor(
      (all) => inTrace(all, sent.traceId).length >= 3,
      'the ingest span and two attempt spans',
    );
    const trace = inTrace(spans, sent.traceId);
    const ingest = trace.find((s) => s.kind === SERVER);
    assert.ok(ingest, 'an ingest span in the sender’s trace');
    assert.equal(ingest.name, 'POST /events');
    assert.equal(ingest.parentSpanId, sent.spanId, 'a child of the sender’s span');
    assert.equal(ingest.attributes['http.response.status_code'], 202);
    assert.equal(ingest.attributes['relay.events.accepted'], 1);
    assert.equal(ingest.resource['service.name'], 'relay-under-test');
    assert.equal(ingest.resource['deployment.environment'], 'test');

    const attempts = trace
      .filter((s) => s.kind === CLIENT)
      .sort(
        (a, b) => Number(a.attributes['relay.attempt']) - Number(b.attributes['relay.attempt']),
      );
    assert.equal(attempts.length, 2, 'one span per attempt');
    for (const a of attempts) {
      assert.equal(a.parentSpanId, ingest.spanId, 'each attempt is a child of the ingest span');
      assert.equal(a.name, 'deliver consumer');
      assert.equal(a.attributes['relay.endpoint'], 'consumer');
      assert.equal(a.attributes['relay.event.id'], event['id']);
    }
    const [failed, delivered] = attempts;
    assert.equal(failed?.attributes['relay.attempt'], 1);
    assert.equal(failed.attributes['http.response.status_code'], 500);
    assert.equal(failed.attributes['error.type'], 'RELAY_HTTP_STATUS');
    assert.equal(failed.status, ERROR);
    assert.equal(typeof failed.attributes['relay.retry.delay_ms'], 'number', 'the retry delay');
    // The failure's log line names the span, to go from the log to the trace.
    const logged = relay.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l['msg']).startsWith('delivery attempt failed'));
    assert.equal(logged?.['traceId'], sent.traceId);
    assert.equal(logged['spanId'], failed.spanId);
    assert.equal(delivered?.attributes['relay.attempt'], 2);
    assert.equal(delivered.attributes['http.response.status_code'], 200);
    assert.notEqual(delivered.status, ERROR);

    // Each request carried its own attempt's traceparent: the receiver's trace joins there.
    const carried = rx.requests.map((r) => idsOf(r.headers['traceparent']));
    assert.deepEqual(
      carried.map((c) => c?.traceId),
      [sent.traceId, sent.traceId],
    );
    assert.deepEqual(
      carried.map((c) => c?.spanId),
      attempts.map((a) => a.spanId),
    );
    assert.deepEqual(otlp.strays(), []);
  });

  it('starts a trace of its own for an event sent without traceparent, and for a source', async () => {
    const rx = await scope.receiver();
    const relay = await scope.relay(
      [{ name: 'consumer', url: rx.url }],
      {
        telemetry: { tracing: { enabled: true, endpoint: otlp.url, serviceName: 'configured' } },
        sources: [{ name: 'dist3', type: 'distribution', auth: { value: 'Bearer src' } }],
      },
      {},
    );
    assert.equal((await relay.post(envelope(pushEvent()))).status, 202);
    const viaSource = newTraceparent();
    const res = await fetch(`${relay.ingestUrl}/sources/dist3`, {
      method: 'POST',
      headers: {
        'content-type': V1,
        authorization: 'Bearer src',
        traceparent: viaSource.traceparent,
      },
      body: envelope(pushEvent()),
    });
    assert.equal(res.status, 202);
    await rx.waitFor(2);
    const own = idsOf(rx.requests[0]?.headers['traceparent']);
    assert.ok(own, 'a traceparent on the request');
    const spans = await otlp.waitFor(
      (all) => inTrace(all, own.traceId).length >= 2 && inTrace(all, viaSource.traceId).length >= 2,
      'both traces exported',
    );
    const root = inTrace(spans, own.traceId).find((s) => s.kind === SERVER);
    assert.ok(root);
    assert.equal(root.parentSpanId, undefined, 'a new trace: the ingest span is its root');
    assert.equal(root.resource['service.name'], 'configured');
    const source = inTrace(spans, viaSource.traceId).find((s) => s.kind === SERVER);
    assert.equal(source?.name, 'POST /sources/dist3');
    assert.equal(source.attributes['relay.source'], 'dist3');
    assert.equal(source.parentSpanId, viaSource.spanId);
  });

  it('off by default: no traceparent goes out and nothing is exported', async () => {
    const rx = await scope.receiver();
    const before = otlp.spans().length;
    const relay = await scope.relay(
      [{ name: 'consumer', url: rx.url }],
      {},
      {
        // Tracing turned off explicitly wins over an endpoint in the environment.
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.base, OTEL_TRACES_EXPORTER: 'none' },
      },
    );
    const sent = newTraceparent();
    assert.equal(
      (await relay.post(envelope(pushEvent()), { traceparent: sent.traceparent })).status,
      202,
    );
    await rx.waitFor(1);
    assert.equal(rx.requests[0]?.headers['traceparent'], undefined);
    await relay.stop();
    assert.equal(otlp.spans().length, before);
    assert.equal(inTrace(otlp.spans(), sent.traceId).length, 0);
  });
});

describe('tracing across a kill and restart', () => {
  let nats: NatsCluster | undefined;
  before(async () => {
    if (natsSkip === false) nats = await startNats(requireNats());
  });
  after(async () => {
    await nats?.stop();
  });

  for (const storage of ['journal', 'nats'] as const) {
    it(
      `${storage}: an attempt by the restarted relay is still in the sender’s trace`,
      {
        skip: storage === 'nats' ? natsSkip : false,
      },
      async () => {
        let open = false;
        /** The traceparent of each request answered 200. */
        const deliveredWith: unknown[] = [];
        const rx = await scope.receiver((req, res) => {
          if (open) deliveredWith.push(req.headers['traceparent']);
          res.writeHead(open ? 200 : 503).end();
        });
        const dir = mkdtempSync(join(tmpdir(), `relay-tracing-${storage}-`));
        const config = {
          storage:
            storage === 'journal'
              ? { path: join(dir, 'data') }
              : { nats: { servers: nats?.urls ?? [], stream: 'tracing', ackWait: '1s' } },
          telemetry: { tracing: { enabled: true, endpoint: otlp.url } },
          notifications: {
            endpoints: [{ name: 'consumer', url: rx.url, backoff: '50ms', threshold: 1 }],
          },
        };
        const first = await spawnRelay(config, dir);
        const sent = newTraceparent();
        const event = pushEvent();
        const res = await fetch(`${first.ingest}/events`, {
          method: 'POST',
          headers: { 'content-type': V1, traceparent: sent.traceparent },
          body: envelope(event),
        });
        assert.equal(res.status, 202);
        // The first relay's spans are exported (a second at most) while it keeps failing.
        const before = await otlp.waitFor(
          (all) => inTrace(all, sent.traceId).some((s) => s.kind === CLIENT),
          'the first relay’s ingest and attempt spans',
        );
        const ingest = inTrace(before, sent.traceId).find((s) => s.kind === SERVER);
        assert.ok(ingest);
        await first.kill('SIGKILL');

        open = true;
        const second = await spawnRelay(config, dir);
        await waitUntil(() => deliveredWith.length > 0, 20_000, 'delivered');
        assert.ok(rx.ids().every((id) => id === event['id']));
        assert.equal(deliveredWith.length, 1, 'delivered once');
        const delivered = idsOf(deliveredWith[0]);
        assert.equal(
          delivered?.traceId,
          sent.traceId,
          'the delivering request is in the sender’s trace',
        );
        const spans = await otlp.waitFor(
          (all) =>
            inTrace(all, sent.traceId).some(
              (s) => s.kind === CLIENT && s.attributes['http.response.status_code'] === 200,
            ),
          'the restarted relay’s delivering attempt span',
        );
        const last = inTrace(spans, sent.traceId).find(
          (s) => s.kind === CLIENT && s.attributes['http.response.status_code'] === 200,
        );
        assert.ok(last);
        assert.equal(last.parentSpanId, ingest.spanId, 'a child of the first relay’s ingest span');
        assert.notEqual(
          last.resource['service.instance.id'],
          ingest.resource['service.instance.id'],
          'made by the other process',
        );
        assert.equal(delivered.spanId, last.spanId, 'the request carried that attempt’s span id');
        await second.kill('SIGTERM');
      },
    );
  }
});
