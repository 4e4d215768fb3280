import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import {
  closedAfterTests,
  envelope,
  loadFixtures,
  pushEvent,
  V1,
  waitUntil,
} from '../../support/helpers.ts';

const { receiver, relay } = closedAfterTests();

/** A port on which nothing listens: connections are refused. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('delivery', () => {
  it('delivers every captured registry request with all its fields, in order, as v1 envelopes', async () => {
    const rx = await receiver();
    const r = await relay([
      {
        name: 'rx',
        url: `${rx.url}?token=q`,
        headers: { 'X-Team': ['a', 'b'], Authorization: ['Bearer out'] },
      },
    ]);
    const sent: Record<string, unknown>[] = [];
    for (const name of ['plain', 'references'] as const) {
      for (const fx of loadFixtures(name)) {
        const type =
          fx.rawHeaders[fx.rawHeaders.findIndex((h) => h.toLowerCase() === 'content-type') + 1];
        assert.ok(type !== undefined);
        const res = await r.post(fx.body, { 'content-type': type });
        assert.equal(res.status, 202, await res.text());
        sent.push(...(JSON.parse(fx.body) as { events: Record<string, unknown>[] }).events);
      }
    }
    assert.equal(sent.length, 28);
    await rx.waitFor(sent.length);
    assert.deepEqual(rx.events(), sent, 'every field of every event, in order');
    for (const req of rx.requests) {
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/events?token=q');
      assert.equal(req.headers['content-type'], V1);
      assert.equal(req.headers['x-team'], 'a, b');
      assert.equal(req.headers['authorization'], 'Bearer out');
      assert.equal((JSON.parse(req.body) as { events: unknown[] }).events.length, 1);
    }
    assert.ok(rx.connections() <= 4, `keep-alive: ${rx.connections()} connections for 28 requests`);
    const v = await r.endpointVars('rx');
    assert.equal(v.Metrics.Successes, 28);
    assert.deepEqual(v.Metrics.Statuses, { '200 OK': 28 });
  });

  it('carries unknown fields through untouched', async () => {
    const rx = await receiver();
    const r = await relay([{ name: 'rx', url: rx.url }]);
    const e = pushEvent({
      artifactType: 'application/vnd.example+json',
      target: {
        mediaType: 'x',
        repository: 'r',
        annotations: { 'org.example': 'v' },
        size: 0,
        digest: '',
      },
      future: { nested: [1, 'two', null, { deep: true }], unicode: 'é😀' },
    });
    await r.post(envelope(e));
    await rx.waitFor(1);
    assert.deepEqual(rx.events()[0], e);
  });

  it('applies ignore rules per endpoint; ignore.actions works on its own (2.8.2 bug fixed)', async () => {
    const all = await receiver();
    const noPulls = await receiver();
    const noBlobs = await receiver();
    const r = await relay([
      { name: 'all', url: all.url },
      { name: 'no-pulls', url: noPulls.url, ignore: { actions: ['pull'] } },
      {
        name: 'no-blobs',
        url: noBlobs.url,
        ignoredmediatypes: ['application/octet-stream'],
        ignore: { mediatypes: ['application/vnd.oci.image.layer.v1.tar'] },
      },
    ]);
    const blobPush = pushEvent({
      target: { mediaType: 'application/octet-stream', repository: 'r' },
    });
    const layerPull = pushEvent({
      action: 'pull',
      target: { mediaType: 'application/vnd.oci.image.layer.v1.tar' },
    });
    const manifestPull = pushEvent({ action: 'pull' });
    const del = pushEvent({ action: 'delete', target: { digest: 'sha256:x', repository: 'r' } });
    const res = await r.post(envelope(blobPush, layerPull, manifestPull, del));
    assert.equal(res.status, 202);
    await all.waitFor(4);
    await noPulls.waitFor(2);
    await noBlobs.waitFor(2);
    await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(
      all.ids(),
      [blobPush, layerPull, manifestPull, del].map((e) => e['id']),
    );
    assert.deepEqual(
      noPulls.ids(),
      [blobPush, del].map((e) => e['id']),
    );
    assert.deepEqual(
      noBlobs.ids(),
      [manifestPull, del].map((e) => e['id']),
    );
    assert.equal(
      (await r.endpointVars('no-pulls')).Metrics.Events,
      2,
      'Events counts after filtering',
    );
  });

  it('treats a 3xx as a failure: never follows it, logs its Location, retries the POST', async () => {
    let n = 0;
    const rx = await receiver((_req, res) => {
      n += 1;
      if (n === 1) res.writeHead(302, { location: 'http://elsewhere.example/hook' }).end();
      else res.writeHead(202).end();
    });
    const r = await relay([{ name: 'moved', url: rx.url }]);
    const e = pushEvent();
    await r.post(envelope(e));
    await rx.waitFor(2);
    assert.deepEqual(
      rx.requests.map((q) => q.method),
      ['POST', 'POST'],
    );
    assert.deepEqual(rx.ids(), [e['id'], e['id']]);
    const v = await r.endpointVars('moved');
    assert.equal(v.Metrics.Failures, 1);
    assert.equal(v.Metrics.Successes, 1);
    assert.deepEqual(v.Metrics.Statuses, { '302 Found': 1, '202 Accepted': 1 });
    const line = r.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['status'] === 302);
    assert.ok(line, 'a log line for the redirect');
    assert.match(String(line['location']), /^http:\/\/elsewhere\.example\/…#[0-9a-f]{8}$/);
    assert.equal(line['endpoint'], 'moved');
    assert.equal(line['eventId'], e['id']);
    assert.equal(line['code'], 'RELAY_HTTP_REDIRECT');
  });

  it('counts 4xx/5xx as failures and connection errors and timeouts as errors, and retries', async () => {
    const statuses = [500, 404, 429];
    const rx = await receiver((_req, res) => res.writeHead(statuses.shift() ?? 200).end());
    let hung = 0;
    const slow = await receiver((_req, res) => {
      hung += 1;
      if (hung === 1) return; // never answers: the attempt times out
      res.writeHead(200).end();
    });
    const port = await closedPort();
    const r = await relay([
      { name: 'flaky', url: rx.url },
      { name: 'slow', url: slow.url, timeout: '200ms' },
      { name: 'down', url: `http://127.0.0.1:${port}/`, threshold: 2, backoff: '1h' },
    ]);
    const e = pushEvent();
    await r.post(envelope(e));
    await rx.waitFor(4);
    await slow.waitFor(2);
    await waitUntil(() =>
      r.relay.endpoints.every((x) => x.config.name === 'down' || x.stats.pending === 0),
    );
    const flaky = await r.endpointVars('flaky');
    assert.equal(flaky.Metrics.Failures, 3);
    assert.equal(flaky.Metrics.Successes, 1);
    assert.equal(flaky.Metrics.Errors, 0);
    assert.deepEqual(flaky.Metrics.Statuses, {
      '500 Internal Server Error': 1,
      '404 Not Found': 1,
      '429 Too Many Requests': 1,
      '200 OK': 1,
    });
    const slowV = await r.endpointVars('slow');
    assert.equal(slowV.Metrics.Errors, 1);
    assert.equal(slowV.Metrics.Successes, 1);
    await waitUntil(
      () => r.relay.endpoints.find((x) => x.config.name === 'down')?.stats.errors === 2,
    );
    const down = await r.endpointVars('down');
    assert.equal(down.Metrics.Errors, 2, 'threshold 2, then backing off for an hour');
    assert.equal(down.Metrics.Pending, 1);
    const logged = r.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(logged.some((l) => l['endpoint'] === 'slow' && l['code'] === 'RELAY_TIMEOUT'));
    assert.ok(
      logged.some(
        (l) => l['endpoint'] === 'down' && l['code'] === 'RELAY_CONNECTION' && l['attempt'] === 2,
      ),
    );
  });

  it('isolates endpoints: one hanging and one refusing never slow the others or ingest', async () => {
    const hanging = await receiver(() => undefined); // accepts, never answers
    const port = await closedPort();
    const a = await receiver();
    const b = await receiver();
    const r = await relay([
      { name: 'hanging', url: hanging.url, timeout: '1h' },
      { name: 'refusing', url: `http://127.0.0.1:${port}/` },
      { name: 'a', url: a.url },
      { name: 'b', url: b.url },
    ]);
    const ids: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      const e = pushEvent();
      ids.push(e['id']);
      const res = await r.post(envelope(e));
      assert.equal(res.status, 202);
    }
    await a.waitFor(200);
    await b.waitFor(200);
    assert.deepEqual(a.ids(), ids);
    assert.deepEqual(b.ids(), ids);
    assert.deepEqual(hanging.ids(), [ids[0]], 'the hanging receiver holds the first event forever');
    const hv = await r.endpointVars('hanging');
    assert.equal(hv.Metrics.Pending, 200);
    assert.equal(hv.Metrics.Successes, 0);
  });

  it('drops the oldest waiting event of a full queue, counts and logs it, and only there', async () => {
    const port = await closedPort();
    const ok = await receiver();
    const r = await relay([
      {
        name: 'dead',
        url: `http://127.0.0.1:${port}/`,
        threshold: 1,
        backoff: '1h',
        queue: { maxPending: 3 },
      },
      { name: 'ok', url: ok.url, queue: { maxPending: 3 } },
    ]);
    const events = Array.from({ length: 6 }, () => pushEvent());
    // Sent one request at a time, so "ok" can keep up and never overflows.
    await r.post(envelope(events[0] ?? {}));
    await waitUntil(() => r.relay.endpoints[0]?.stats.errors === 1, 5000, 'first attempt');
    for (const e of events.slice(1)) {
      await r.post(envelope(e));
      await ok.waitFor(events.indexOf(e) + 1);
    }
    // "dead": event 0 is in flight (backing off); 1..5 waited in a queue of 3: 1 and 2 dropped.
    const v = await r.vars();
    const deadRelay = v.relay.endpoints.find((e) => e.name === 'dead');
    assert.equal(deadRelay?.Dropped, 2);
    const dead = await r.endpointVars('dead');
    assert.equal(dead.Metrics.Pending, 4);
    assert.equal(dead.Metrics.Events, 6);
    const dropLines = r.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'queue full: dropped the oldest pending event');
    assert.deepEqual(
      dropLines.map((l) => l['eventId']),
      [events[1]?.['id'], events[2]?.['id']],
    );
    assert.ok(dropLines.every((l) => l['level'] === 40 && l['endpoint'] === 'dead'));
    assert.equal(v.relay.endpoints.find((e) => e.name === 'ok')?.Dropped, 0);
    assert.deepEqual(
      ok.ids(),
      events.map((e) => e['id']),
    );
  });

  it('shows disabled endpoints in metrics and sends them nothing', async () => {
    const rx = await receiver();
    const off = await receiver();
    const r = await relay([
      { name: 'on', url: rx.url },
      { name: 'off', url: off.url, disabled: true },
    ]);
    await r.post(envelope(pushEvent()));
    await rx.waitFor(1);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(off.requests.length, 0);
    const v = await r.endpointVars('off');
    assert.equal(v.Disabled, true);
    assert.equal(v.Metrics.Events, 0);
    const metrics = await (await fetch(`${r.debugUrl}/metrics`)).text();
    assert.match(metrics, /registry_notifications_events_total\{type="Events",endpoint="off"\} 0/);
  });
});
