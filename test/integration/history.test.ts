// The admin API's history: the attempts log (request and answer of every attempt, no secret
// ever shown) and where one event is (GET /api/v1/events/{id}), in memory, in the journal
// across a restart, and on JetStream shared by two relays.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closedAfterTests, envelope, pushEvent, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import { spawnRelay } from '../support/relay-process.ts';

const scope = closedAfterTests();
const TOKEN = 'history-token-for-tests';
const bearer = { authorization: `Bearer ${TOKEN}` };
const SIGNING = `whsec_${Buffer.from('signing-secret-for-the-history!!').toString('base64')}`;

interface Attempt {
  seq: number;
  endpoint: string;
  relay: string;
  at: string;
  durationMs: number;
  deliveryId: string;
  eventIds: string[];
  result: string;
  request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    bodySize: number;
    body?: string;
  };
  response?: { status: number; headers: Record<string, string>; bodySize: number; body?: string };
  code?: string;
  message?: string;
}

async function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/v1${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const attemptsOf = (body: Record<string, unknown>) => body['attempts'] as Attempt[];

describe('attempts log and event whereabouts', () => {
  it('records request and answer of every attempt, pages and filters, and never shows a secret', async () => {
    let fail = true;
    const rx = await scope.receiver((_req, res) => {
      if (fail) {
        fail = false;
        res
          .writeHead(500, { 'x-receiver': 'one', 'set-cookie': 'session=cookie-secret' })
          .end('receiver says no');
      } else res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    });
    const url = new URL(rx.url);
    const secretUrl = `http://hookuser:url-password@${url.host}/hook/path-secret?token=query-secret`;
    const relay = await scope.relay(
      [
        {
          name: 'ci',
          url: secretUrl,
          threshold: 100,
          backoff: '10ms',
          headers: { 'x-api-key': ['header-secret'], authorization: ['Bearer auth-secret'] },
          signing: { secret: SIGNING },
        },
        { name: 'prod-only', url: rx.url, filter: { repositories: ['prod/*'] } },
      ],
      { http: { debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } } } },
    );
    const event = pushEvent();
    const id = String(event['id']);
    assert.equal((await relay.post(envelope(event))).status, 202);
    await rx.waitFor(2);
    const base = relay.debugUrl;
    await waitUntil(
      async () => attemptsOf((await get(base, '/endpoints/ci/attempts', bearer)).body).length === 2,
      5000,
      'two attempts logged',
    );

    const refused = await get(base, '/endpoints/ci/attempts');
    assert.equal(refused.status, 401, 'the attempts log needs a token when tokens are set');
    assert.equal(refused.body['error'], 'unauthorized');
    assert.equal(
      (await get(base, '/endpoints/ci/attempts', { authorization: 'Bearer x' })).status,
      401,
    );

    const { status, body } = await get(base, '/endpoints/ci/attempts', bearer);
    assert.equal(status, 200);
    assert.equal(body['bodies'], true);
    const [ok, failed] = attemptsOf(body);
    assert.ok(ok && failed);
    assert.ok(ok.seq > failed.seq, 'newest first');
    assert.equal(ok.result, 'success');
    assert.equal(ok.response?.status, 200);
    assert.equal(ok.response.body, 'thanks');
    assert.equal(failed.result, 'failure');
    assert.equal(failed.response?.status, 500);
    assert.equal(failed.response.body, 'receiver says no');
    assert.equal(failed.response.headers['x-receiver'], 'one');
    assert.equal(failed.response.headers['set-cookie'], '<redacted>');
    assert.match(failed.message ?? '', /500 Internal Server Error: receiver says no/);
    for (const a of [ok, failed]) {
      assert.deepEqual(a.eventIds, [id]);
      assert.equal(a.deliveryId, id);
      assert.equal(a.endpoint, 'ci');
      assert.match(a.relay, /.+:\d+$/);
      assert.ok(Date.parse(a.at) > 0);
      assert.ok(a.durationMs >= 0);
      assert.equal(a.request.method, 'POST');
      assert.match(a.request.url, /^http:\/\/127\.0\.0\.1:\d+\/…#[0-9a-f]{8}$/);
      assert.ok(a.request.body?.includes(id), 'the request body is shown');
      assert.equal(a.request.bodySize, Buffer.byteLength(a.request.body ?? ''));
      assert.equal(a.request.headers['x-api-key'], '<redacted>');
      assert.equal(a.request.headers['authorization'], '<redacted>');
      assert.equal(a.request.headers['webhook-signature'], '<redacted>');
      assert.equal(a.request.headers['webhook-id'], id);
      assert.match(a.request.headers['content-type'] ?? '', /json/);
    }
    const everything = JSON.stringify(body);
    for (const secret of [
      'header-secret',
      'auth-secret',
      'url-password',
      'hookuser',
      'path-secret',
      'query-secret',
      'cookie-secret',
      SIGNING,
      SIGNING.slice('whsec_'.length),
      TOKEN,
    ]) {
      assert.ok(!everything.includes(secret), `the attempts log shows ${secret}`);
    }

    const failures = await get(base, '/endpoints/ci/attempts?status=failed', bearer);
    assert.deepEqual(
      attemptsOf(failures.body).map((a) => a.response?.status),
      [500],
    );
    assert.equal(
      attemptsOf((await get(base, '/endpoints/ci/attempts?status=500', bearer)).body).length,
      1,
    );
    assert.equal(
      attemptsOf((await get(base, '/endpoints/ci/attempts?status=error', bearer)).body).length,
      0,
    );
    const bad = await get(base, '/endpoints/ci/attempts?status=broken', bearer);
    assert.equal(bad.status, 400);
    assert.match(String(bad.body['message']), /status "broken"/);
    assert.equal((await get(base, '/endpoints/ci/attempts?limit=0', bearer)).status, 400);
    const first = await get(base, '/endpoints/ci/attempts?limit=1', bearer);
    assert.equal(attemptsOf(first.body)[0]?.seq, ok.seq);
    assert.equal(first.body['next'], ok.seq);
    const second = await get(
      base,
      `/endpoints/ci/attempts?limit=1&before=${String(ok.seq)}`,
      bearer,
    );
    assert.equal(attemptsOf(second.body)[0]?.seq, failed.seq);
    const unknown = await get(base, '/endpoints/nope/attempts', bearer);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body['error'], 'unknown_endpoint');

    const where = await get(base, `/events/${encodeURIComponent(id)}`, bearer);
    assert.equal(where.status, 200, JSON.stringify(where.body));
    const places = where.body['endpoints'] as Record<string, unknown>[];
    const ci = places.find((p) => p['endpoint'] === 'ci');
    assert.equal(ci?.['state'], 'delivered');
    assert.equal(ci['attempts'], 2);
    assert.ok(Date.parse(String(ci['at'])) > 0);
    assert.equal(places.find((p) => p['endpoint'] === 'prod-only')?.['state'], 'filtered-out');
    assert.ok(Date.parse(String(where.body['acceptedAt'])) > 0);
    const missing = await get(base, '/events/no-such-event');
    assert.equal(missing.status, 404);
    assert.equal(missing.body['error'], 'unknown_event');
  });

  it('without tokens: the log is readable without bodies or receiver words; it can be turned off', async () => {
    const rx = await scope.receiver((_req, res) => res.writeHead(503).end('maintenance window'));
    const relay = await scope.relay([{ name: 'ci', url: rx.url, threshold: 100 }]);
    assert.equal((await relay.post(envelope(pushEvent()))).status, 202);
    await rx.waitFor(1);
    await waitUntil(
      async () => attemptsOf((await get(relay.debugUrl, '/endpoints/ci/attempts')).body).length > 0,
      5000,
      'an attempt logged',
    );
    const { status, body } = await get(relay.debugUrl, '/endpoints/ci/attempts');
    assert.equal(status, 200);
    assert.equal(body['bodies'], false);
    const [a] = attemptsOf(body);
    assert.equal(a?.response?.status, 503);
    assert.equal(a.response.body, undefined);
    assert.equal(a.request.body, undefined);
    assert.equal(a.message, undefined);
    assert.ok(!JSON.stringify(body).includes('maintenance'));

    const off = await scope.relay([{ name: 'ci', url: rx.url }], {
      http: { debug: { addr: '127.0.0.1:0', attempts: { keep: 0 }, events: { keep: 0 } } },
    });
    const refused = await get(off.debugUrl, '/endpoints/ci/attempts');
    assert.equal(refused.status, 409);
    assert.equal(refused.body['error'], 'attempts_off');
    assert.match(String(refused.body['message']), /http\.debug\.attempts\.keep/);
    const event = pushEvent();
    assert.equal((await off.post(envelope(event))).status, 202);
    const none = await get(off.debugUrl, `/events/${String(event['id'])}`);
    assert.equal(none.status, 404);
    assert.match(String(none.body['message']), /http\.debug\.events\.keep is 0/);
  });

  for (const storage of ['journal', 'nats'] as const) {
    it(
      `durable (${storage}): the log outlives a restart and is shared; a paused endpoint's event is pending`,
      { skip: storage === 'nats' ? natsSkip : false },
      async () => {
        const rx = await scope.receiver((_req, res) => res.writeHead(202).end('queued here'));
        const dir = mkdtempSync(join(tmpdir(), 'relay-history-'));
        const nats = storage === 'nats' ? await startNats(requireNats()) : undefined;
        const config = {
          http: {
            addr: '127.0.0.1:0',
            debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } },
          },
          storage:
            nats === undefined
              ? { path: join(dir, 'data') }
              : { nats: { servers: nats.urls, stream: 'history' } },
          notifications: {
            endpoints: [
              { name: 'ci', url: rx.url },
              { name: 'later', url: rx.url },
            ],
          },
        };
        const first = await spawnRelay(config, dir);
        const post = (to: string, events: Record<string, unknown>[]) =>
          fetch(`${to}/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: envelope(...events),
          });
        const delivered = pushEvent();
        assert.equal((await post(first.ingest, [delivered])).status, 202);
        await rx.waitFor(2);
        const pause = await fetch(`${first.debug}/api/v1/endpoints/later/pause`, {
          method: 'POST',
          headers: bearer,
        });
        assert.equal(pause.status, 200);
        const held = pushEvent();
        assert.equal((await post(first.ingest, [held])).status, 202);
        await rx.waitFor(3);
        await waitUntil(
          async () =>
            attemptsOf((await get(first.debug, '/endpoints/ci/attempts', bearer)).body).length ===
            2,
          10_000,
          'two attempts of ci in the durable log',
        );
        // The second relay: a restart on the journal, a second instance on JetStream.
        let second;
        if (nats === undefined) {
          assert.equal(await first.kill('SIGTERM'), 0);
          second = await spawnRelay(config, dir);
        } else {
          second = await spawnRelay(config, mkdtempSync(join(tmpdir(), 'relay-history-b-')));
        }
        const log = attemptsOf((await get(second.debug, '/endpoints/ci/attempts', bearer)).body);
        assert.deepEqual(
          log.map((a) => [a.eventIds[0], a.response?.status, a.response?.body]),
          [
            [held['id'], 202, 'queued here'],
            [delivered['id'], 202, 'queued here'],
          ],
        );
        const where = await get(second.debug, `/events/${String(delivered['id'])}`, bearer);
        assert.equal(where.status, 200, JSON.stringify(where.body));
        const places = where.body['endpoints'] as Record<string, unknown>[];
        assert.equal(places.find((p) => p['endpoint'] === 'ci')?.['state'], 'delivered');
        assert.equal(places.find((p) => p['endpoint'] === 'later')?.['state'], 'delivered');
        if (nats === undefined) {
          // After the restart only the journal knows the held event is still owed.
          const pending = await get(second.debug, `/events/${String(held['id'])}`, bearer);
          const at = pending.body['endpoints'] as Record<string, unknown>[];
          assert.equal(at.find((p) => p['endpoint'] === 'later')?.['state'], 'pending');
          assert.equal(at.find((p) => p['endpoint'] === 'ci')?.['state'], 'delivered');
        } else {
          assert.equal(await first.kill('SIGTERM'), 0);
        }
        assert.equal(await second.kill('SIGTERM'), 0);
        await nats?.stop();
      },
    );
  }
});
