// The admin API on the ops listener: endpoint states, pause and resume, reload, the
// OpenAPI document, and who may do what (tokens, read-only without them).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { closedAfterTests, envelope, pushEvent, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import { spawnRelay, writeRelayConfig } from '../support/relay-process.ts';

const scope = closedAfterTests();
const TOKEN = 'admin-token-for-tests';
const withToken = { http: { debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } } } };
const bearer = { authorization: `Bearer ${TOKEN}` };

interface EndpointView {
  name: string;
  state: string;
  url: string;
  pending: number;
  inFlight: number;
  paused: boolean;
  delivered: number;
  failed: number;
  lastMinute: { delivered: number; failed: number; deliveredPerSecond: number[] };
  lastSuccess: { at: string; status: number } | null;
  lastFailure: { at: string; status?: number; code?: string; message?: string } | null;
  breaker: { consecutiveFailures: number; nextAttemptAt: string | null };
}

async function call(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('admin API', () => {
  it('without tokens: read-only, no receiver answers shown, writes refused naming the key', async () => {
    const rx = await scope.receiver((_req, res) => res.writeHead(500).end('secret-ish body'));
    const relay = await scope.relay([{ name: 'ci', url: `${rx.url}?token=abc`, threshold: 100 }]);
    assert.equal((await relay.post(envelope(pushEvent()))).status, 202);
    await rx.waitFor(2);
    const { status, body } = await call(relay.debugUrl, 'GET', '/endpoints');
    assert.equal(status, 200);
    const [ci] = body['endpoints'] as EndpointView[];
    assert.ok(ci);
    assert.equal(ci.name, 'ci');
    assert.equal(ci.state, 'retrying');
    assert.match(ci.url, /^http:\/\/127\.0\.0\.1:\d+\/…#[0-9a-f]{8}$/, 'URL secrets hidden');
    assert.equal(ci.lastFailure?.status, 500);
    assert.equal(ci.lastFailure.message, undefined, 'no answer bodies without a token');
    assert.ok(ci.breaker.consecutiveFailures >= 2);
    const refused = await call(relay.debugUrl, 'POST', '/endpoints/ci/pause');
    assert.equal(refused.status, 403);
    assert.equal(refused.body['error'], 'read_only');
    assert.match(String(refused.body['message']), /http\.debug\.auth\.tokens/);
  });

  it('pause keeps accepting and sends nothing; resume delivers the backlog; errors are JSON', async () => {
    const rx = await scope.receiver();
    const relay = await scope.relay([{ name: 'ci', url: rx.url }], withToken);
    const base = relay.debugUrl;
    assert.equal((await call(base, 'POST', '/endpoints/ci/pause')).status, 401);
    const wrong = await call(base, 'POST', '/endpoints/ci/pause', { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body['error'], 'unauthorized');

    const paused = await call(base, 'POST', '/endpoints/ci/pause', bearer);
    assert.equal(paused.status, 200);
    assert.equal(paused.body['state'], 'paused');
    const again = await call(base, 'POST', '/endpoints/ci/pause', bearer);
    assert.equal(again.status, 409);
    assert.equal(again.body['error'], 'already_paused');

    const events = Array.from({ length: 5 }, () => pushEvent());
    assert.equal((await relay.post(envelope(...events))).status, 202);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rx.requests.length, 0, 'nothing sent while paused');
    const view = (await call(base, 'GET', '/endpoints/ci')).body as unknown as EndpointView;
    assert.equal(view.pending, 5);
    assert.equal(view.paused, true);

    const resumed = await call(base, 'POST', '/endpoints/ci/resume', bearer);
    assert.equal(resumed.status, 200);
    await rx.waitFor(5);
    assert.deepEqual(
      rx.ids(),
      events.map((e) => e['id']),
    );
    const after = (await call(base, 'GET', '/endpoints/ci')).body as unknown as EndpointView;
    assert.equal(after.state, 'delivering');
    assert.equal(after.delivered, 5);
    assert.equal(after.lastMinute.delivered, 5);
    assert.equal(after.lastMinute.deliveredPerSecond.length, 60);
    assert.equal(after.lastSuccess?.status, 200);

    const notPaused = await call(base, 'POST', '/endpoints/ci/resume', bearer);
    assert.equal(notPaused.status, 409);
    assert.equal(notPaused.body['error'], 'not_paused');
    const unknown = await call(base, 'POST', '/endpoints/nope/pause', bearer);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body['error'], 'unknown_endpoint');
    assert.match(String(unknown.body['message']), /configured: ci/);
    const noRoute = await call(base, 'GET', '/nothing-here');
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.body['error'], 'not_found');
    const noFile = await call(base, 'POST', '/reload', bearer);
    assert.equal(noFile.status, 409);
    assert.equal(noFile.body['error'], 'no_config_file');
  });

  it('a failing receiver: backing-off with the next attempt time; its answer shown with a token', async () => {
    const rx = await scope.receiver((_req, res) => res.writeHead(503).end('maintenance window'));
    const relay = await scope.relay(
      [{ name: 'ci', url: rx.url, threshold: 2, backoff: '1h' }],
      withToken,
    );
    assert.equal((await relay.post(envelope(pushEvent()))).status, 202);
    await rx.waitFor(2);
    await waitUntil(
      async () =>
        (await call(relay.debugUrl, 'GET', '/endpoints/ci')).body['state'] === 'backing-off',
      5000,
      'backing-off',
    );
    const view = (await call(relay.debugUrl, 'GET', '/endpoints/ci', bearer))
      .body as unknown as EndpointView;
    assert.equal(view.breaker.consecutiveFailures, 2);
    const next = Date.parse(view.breaker.nextAttemptAt ?? '');
    assert.ok(next > Date.now() + 3_500_000, 'about an hour from now');
    assert.equal(view.lastFailure?.status, 503);
    assert.match(view.lastFailure.message ?? '', /503 Service Unavailable: maintenance window/);
    assert.equal(view.lastMinute.failed, 2);
    assert.equal(view.failed, 2);
  });

  it('pause holds across a reload that changes the endpoint; reload by the API applies the file', async () => {
    const [rx, rx2] = [await scope.receiver(), await scope.receiver()];
    const dir = mkdtempSync(join(tmpdir(), 'relay-admin-'));
    const configOf = (endpoints: Record<string, unknown>[]) => ({
      http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } } },
      notifications: { endpoints },
    });
    const relay = await spawnRelay(configOf([{ name: 'ci', url: rx.url }]), dir);
    assert.equal((await call(relay.debug, 'POST', '/endpoints/ci/pause', bearer)).status, 200);
    writeRelayConfig(
      configOf([
        { name: 'ci', url: rx2.url },
        { name: 'audit', url: rx.url },
      ]),
      dir,
    );
    const applied = await call(relay.debug, 'POST', '/reload', bearer);
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.deepEqual(applied.body['added'], ['audit']);
    assert.deepEqual(
      (applied.body['changed'] as { name: string }[]).map((c) => c.name),
      ['ci'],
    );
    const event = pushEvent();
    const res = await fetch(`${relay.ingest}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: envelope(event),
    });
    assert.equal(res.status, 202);
    await rx.waitFor(1); // audit
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rx2.requests.length, 0, 'ci stays paused on its new URL');
    assert.equal((await call(relay.debug, 'POST', '/endpoints/ci/resume', bearer)).status, 200);
    await rx2.waitFor(1);

    writeRelayConfig({ notifications: { endpoints: [{ name: 'x', url: 'not a url' }] } }, dir);
    const invalid = await call(relay.debug, 'POST', '/reload', bearer);
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body['error'], 'reload_failed');
    assert.ok((invalid.body['problems'] as string[]).some((p) => p.includes('url')));
    assert.equal(await relay.kill('SIGTERM'), 0);
  });

  for (const storage of ['journal', 'nats'] as const) {
    it(
      `dead letters: list, replay, purge through the API (${storage})`,
      { skip: storage === 'nats' ? natsSkip : false },
      async () => {
        const rx = await scope.receiver((_req, res) => res.writeHead(500).end('broken receiver'));
        const dir = mkdtempSync(join(tmpdir(), 'relay-admin-dead-'));
        const nats = storage === 'nats' ? await startNats(requireNats()) : undefined;
        const relay = await spawnRelay(
          {
            http: {
              addr: '127.0.0.1:0',
              debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } },
            },
            storage:
              nats === undefined
                ? { path: join(dir, 'data') }
                : { nats: { servers: nats.urls, stream: 'admin' } },
            notifications: {
              endpoints: [{ name: 'ci', url: rx.url, threshold: 100, retry: { maxAttempts: 2 } }],
            },
          },
          dir,
        );
        const base = relay.debug;
        const events = [pushEvent(), pushEvent()];
        const res = await fetch(`${relay.ingest}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: envelope(...events),
        });
        assert.equal(res.status, 202);
        await waitUntil(
          async () => (await call(base, 'GET', '/dead-letters')).body['count'] === 2,
          15_000,
          'two dead letters',
        );
        const open = await call(base, 'GET', '/dead-letters?endpoint=ci');
        const rows = open.body['deadLetters'] as Record<string, unknown>[];
        assert.deepEqual(
          rows.map((d) => [d['endpoint'], d['eventId'], d['attempts']]),
          events.map((e) => ['ci', e['id'], 2]),
        );
        assert.equal(rows[0]?.['error'], undefined, 'no receiver answer without a token');
        const shown = await call(base, 'GET', '/dead-letters', bearer);
        assert.match(
          String((shown.body['deadLetters'] as Record<string, unknown>[])[0]?.['error']),
          /500 Internal Server Error: broken receiver/,
        );
        const none = await call(base, 'GET', '/dead-letters?since=2099-01-01');
        assert.equal(none.body['count'], 0);
        const badSince = await call(base, 'GET', '/dead-letters?since=whenever');
        assert.equal(badSince.status, 400);
        assert.match(String(badSince.body['message']), /since "whenever"/);
        const unknown = await call(base, 'GET', '/dead-letters?endpoint=nope');
        assert.equal(unknown.status, 404);
        assert.equal(unknown.body['error'], 'unknown_endpoint');
        assert.equal((await call(base, 'POST', '/dead-letters/replay')).status, 401);

        rx.respondWith(undefined);
        const replayed = await call(base, 'POST', '/dead-letters/replay', bearer, {
          endpoint: 'ci',
        });
        assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
        assert.equal(replayed.body['replayed'], 2);
        await waitUntil(() => rx.ids().length >= 6, 15_000, 'replayed events delivered');
        assert.deepEqual(
          rx.ids().slice(4),
          events.map((e) => e['id']),
        );
        const nothing = await call(base, 'POST', '/dead-letters/replay', bearer);
        assert.equal(nothing.status, 409);
        assert.equal(nothing.body['error'], 'nothing_to_replay');

        rx.respondWith((_req, r) => r.writeHead(500).end());
        assert.equal(
          (
            await fetch(`${relay.ingest}/events`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: envelope(pushEvent()),
            })
          ).status,
          202,
        );
        await waitUntil(
          async () => (await call(base, 'GET', '/dead-letters')).body['count'] === 1,
          15_000,
          'a third dead letter',
        );
        const purged = await call(base, 'POST', '/dead-letters/purge', bearer, {});
        assert.equal(purged.body['purged'], 1);
        assert.equal((await call(base, 'GET', '/dead-letters')).body['count'], 0);
        assert.equal(await relay.kill('SIGTERM'), 0);
        await nats?.stop();
      },
    );
  }

  it('test-send: one signed request through the real path, outside the queue and the metrics', async () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    let answer = 200;
    const rx = await scope.receiver((_req, res) => res.writeHead(answer).end('nope, not today'));
    const relay = await scope.relay(
      [
        { name: 'ci', url: rx.url, signing: { secret }, headers: { 'x-team': ['platform'] } },
        { name: 'off', url: rx.url, disabled: true },
      ],
      withToken,
    );
    const base = relay.debugUrl;
    assert.equal((await call(base, 'POST', '/endpoints/ci/test')).status, 401);
    const sent = await call(base, 'POST', '/endpoints/ci/test', bearer);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body['ok'], true);
    assert.equal(sent.body['status'], 200);
    assert.equal(typeof sent.body['durationMs'], 'number');
    const req = rx.requests[0];
    assert.ok(req);
    new Webhook(secret).verify(req.body, req.headers as Record<string, string>);
    assert.equal(req.headers['x-team'], 'platform');
    const [event] = rx.events();
    assert.match(String(event?.['id']), /^registry-relay-test-/);
    assert.equal(sent.body['deliveryId'], event?.['id']);
    const view = (await call(base, 'GET', '/endpoints/ci')).body as unknown as EndpointView;
    assert.equal(view.delivered, 0, 'a test counts in no metric');
    assert.equal(view.lastSuccess, null);

    answer = 500;
    const failed = await call(base, 'POST', '/endpoints/ci/test', bearer, {
      events: [pushEvent({ id: 'my-own-event' })],
    });
    assert.equal(failed.body['ok'], false);
    assert.equal(failed.body['status'], 500);
    assert.match(String(failed.body['message']), /500 Internal Server Error: nope, not today/);
    assert.equal(rx.events()[1]?.['id'], 'my-own-event');

    const bad = await call(base, 'POST', '/endpoints/ci/test', bearer, { events: [{ id: 1 }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body['error'], 'bad_envelope');
    assert.match(String(bad.body['message']), /^events\[0\]\.id: /);
    const two = await call(base, 'POST', '/endpoints/ci/test', bearer, {
      events: [pushEvent(), pushEvent()],
    });
    assert.equal(two.status, 400);
    assert.match(String(two.body['message']), /batch\.maxEvents is 1/);
    const off = await call(base, 'POST', '/endpoints/off/test', bearer);
    assert.equal(off.status, 409);
    assert.equal(off.body['error'], 'disabled');
  });

  it('memory storage keeps no dead letters: the API says so', async () => {
    const relay = await scope.relay([{ name: 'ci', url: 'http://127.0.0.1:9/' }], withToken);
    const res = await call(relay.debugUrl, 'GET', '/dead-letters');
    assert.equal(res.status, 409);
    assert.equal(res.body['error'], 'not_durable');
    assert.match(String(res.body['message']), /storage\.path or storage\.nats/);
  });

  it('with the journal a pause outlives a restart', async () => {
    const rx = await scope.receiver();
    const dir = mkdtempSync(join(tmpdir(), 'relay-admin-restart-'));
    const config = {
      http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } } },
      storage: { path: join(dir, 'data') },
      notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
    };
    const first = await spawnRelay(config, dir);
    assert.equal((await call(first.debug, 'POST', '/endpoints/ci/pause', bearer)).status, 200);
    assert.equal(await first.kill('SIGTERM'), 0);
    const second = await spawnRelay(config, dir);
    assert.ok(
      second.logs().some((l) => /paused before the restart/.test(String(l['msg']))),
      'the pause is logged at start',
    );
    const view = await call(second.debug, 'GET', '/endpoints/ci');
    assert.equal(view.body['state'], 'paused');
    const event = pushEvent();
    const res = await fetch(`${second.ingest}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: envelope(event),
    });
    assert.equal(res.status, 202);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.requests.length, 0, 'still paused');
    assert.equal((await call(second.debug, 'POST', '/endpoints/ci/resume', bearer)).status, 200);
    await rx.waitFor(1);
    assert.deepEqual(rx.ids(), [event['id']]);
    assert.equal(await second.kill('SIGTERM'), 0);
    // Resumed is kept too.
    const third = await spawnRelay(config, dir);
    assert.equal((await call(third.debug, 'GET', '/endpoints/ci')).body['state'], 'delivering');
    assert.equal(await third.kill('SIGTERM'), 0);
  });

  it(
    'on JetStream a pause and a resume hold for every relay, and each relay lists the others',
    { skip: natsSkip },
    async () => {
      const rx = await scope.receiver();
      const nats = await startNats(requireNats());
      const config = {
        http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } } },
        storage: { nats: { servers: nats.urls, stream: 'pauses' } },
        notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
      };
      const dir = () => mkdtempSync(join(tmpdir(), 'relay-admin-pause-'));
      const a = await spawnRelay(config, dir());
      const b = await spawnRelay(config, dir());
      const paused = await call(a.debug, 'POST', '/endpoints/ci/pause', bearer);
      assert.equal(paused.status, 200);
      await waitUntil(
        async () => (await call(b.debug, 'GET', '/endpoints/ci')).body['state'] === 'paused',
        5000,
        'the other relay paused too',
      );
      const events = Array.from({ length: 6 }, () => pushEvent());
      for (const [i, event] of events.entries()) {
        const res = await fetch(`${(i % 2 === 0 ? a : b).ingest}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: envelope(event),
        });
        assert.equal(res.status, 202);
      }
      // A relay started now finds the endpoint paused.
      const c = await spawnRelay(config, dir());
      assert.equal((await call(c.debug, 'GET', '/endpoints/ci')).body['state'], 'paused');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(rx.requests.length, 0, 'no relay sent anything while paused');
      await waitUntil(
        async () => {
          const list = (await call(a.debug, 'GET', '/instances')).body['instances'] as {
            id: string;
            self: boolean;
            endpoints: { name: string; state: string }[];
          }[];
          return (
            list.length === 3 &&
            list[0]?.self === true &&
            list.every((i) => i.endpoints[0]?.state === 'paused')
          );
        },
        15_000,
        'three instances, each with ci paused',
      );
      assert.equal((await call(b.debug, 'POST', '/endpoints/ci/resume', bearer)).status, 200);
      await rx.waitFor(6);
      assert.deepEqual(
        rx.ids(),
        events.map((e) => e['id']),
      );
      await waitUntil(
        async () => (await call(c.debug, 'GET', '/endpoints/ci')).body['state'] === 'delivering',
        5000,
        'resumed everywhere',
      );
      assert.equal(await c.kill('SIGTERM'), 0);
      await waitUntil(
        async () =>
          ((await call(a.debug, 'GET', '/instances')).body['instances'] as unknown[]).length === 2,
        5000,
        'a stopped relay leaves the list at once',
      );
      assert.equal(await a.kill('SIGTERM'), 0);
      assert.equal(await b.kill('SIGTERM'), 0);
      await nats.stop();
    },
  );

  it('serves an OpenAPI document generated from the routes', async () => {
    const relay = await scope.relay([{ name: 'ci', url: 'http://127.0.0.1:9/' }]);
    const { status, body } = await call(relay.debugUrl, 'GET', '/openapi.json');
    assert.equal(status, 200);
    assert.match(String(body['openapi']), /^3\./);
    const paths = Object.keys(body['paths'] as object);
    for (const p of [
      '/api/v1/endpoints',
      '/api/v1/endpoints/{name}',
      '/api/v1/endpoints/{name}/pause',
      '/api/v1/endpoints/{name}/resume',
      '/api/v1/reload',
      '/api/v1/dead-letters',
      '/api/v1/dead-letters/replay',
      '/api/v1/dead-letters/purge',
      '/api/v1/endpoints/{name}/test',
      '/api/v1/endpoints/{name}/attempts',
      '/api/v1/events/{id}',
      '/api/v1/instances',
    ]) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    }
  });
});
