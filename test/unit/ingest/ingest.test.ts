import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildRelay, type Relay } from '../../../src/relay/app.ts';
import { RecentIds } from '../../../src/ingest/recent-ids.ts';
import { MemoryStorage } from '../../../src/storage/memory.ts';
import {
  closedAfterTests,
  envelope,
  FakeClock,
  makeConfig,
  memoryLogger,
  pushEvent,
  V1,
} from '../../support/helpers.ts';

type Body = {
  error?: string;
  message?: string;
  where?: string;
  accepted?: number;
  duplicates?: number;
};

describe('ingest POST /events', () => {
  let relay: Relay;
  before(() => {
    // Unreachable endpoint: these tests look at what ingest answers, not at delivery.
    const config = makeConfig([{ name: 'a', url: 'http://127.0.0.1:9/', backoff: '1h' }], {
      http: { maxBodySize: 2048, auth: { tokens: ['s3cret', 'other-token'] } },
    });
    relay = buildRelay(config, { log: memoryLogger().log });
  });
  after(async () => {
    await relay.drain(0);
    await relay.ingest.close();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    relay.ingest.inject({
      method: 'POST',
      url: '/events',
      headers: { authorization: 'Bearer s3cret', 'content-type': V1, ...headers },
      body,
    });

  it('accepts the registry envelope types and plain JSON, with parameters', async () => {
    for (const type of [
      V1,
      'application/vnd.docker.distribution.events.v2+json',
      'application/json',
      'application/json; charset=utf-8',
      'application/vnd.docker.distribution.events.v1+json; charset=UTF-8',
    ]) {
      const res = await post(envelope(pushEvent()), { 'content-type': type });
      assert.equal(res.statusCode, 202, `${type}: ${res.body}`);
      assert.deepEqual(res.json(), { accepted: 1, duplicates: 0 });
    }
    const pending = relay.endpoints[0]?.stats.events;
    assert.equal(pending, 5, 'every accepted event reached the endpoint queue before 2xx');
  });

  it('answers 415 for other content types, naming the accepted ones', async () => {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await post(envelope(pushEvent()), { 'content-type': type });
      assert.equal(res.statusCode, 415, type);
      const body = res.json<Body>();
      assert.equal(body.error, 'unsupported_media_type');
      assert.match(body.message ?? '', /application\/vnd\.docker\.distribution\.events\.v1\+json/);
    }
    const none = await relay.ingest.inject({
      method: 'POST',
      url: '/events',
      headers: { authorization: 'Bearer s3cret' },
      payload: Buffer.from(envelope(pushEvent())),
    });
    assert.equal(none.statusCode, 415);
  });

  it('answers 400 for malformed JSON and an empty body', async () => {
    const bad = await post('{"events": [');
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json<Body>().error, 'malformed_json');
    assert.match(bad.json<Body>().message ?? '', /not valid JSON/);
    const empty = await post('');
    assert.equal(empty.statusCode, 400);
    assert.equal(empty.json<Body>().error, 'empty_body');
  });

  it('answers 400 for a wrong shape, saying what and where', async () => {
    const cases: [string, string][] = [
      ['[]', 'body'],
      ['{"event":[]}', 'events'],
      ['{"events":{}}', 'events'],
      ['{"events":[1]}', 'events[0]'],
      [envelope(pushEvent(), pushEvent({ id: 7 })), 'events[1].id'],
      [envelope(pushEvent({ id: '' })), 'events[0].id'],
      [envelope(pushEvent({ action: null })), 'events[0].action'],
      [envelope(pushEvent({ target: 'x' })), 'events[0].target'],
      [envelope({ id: 'x', action: 'push' }), 'events[0].target'],
      // The relay's own kinds carry their detail.
      [envelope(pushEvent({ action: 'scan' })), 'events[0].relay.scan'],
      [
        envelope(pushEvent({ action: 'build', relay: { build: 'failed' } })),
        'events[0].relay.build',
      ],
    ];
    const before = relay.endpoints[0]?.stats.events ?? 0;
    for (const [body, where] of cases) {
      const res = await post(body);
      assert.equal(res.statusCode, 400, body);
      const json = res.json<Body>();
      assert.equal(json.error, 'bad_envelope');
      assert.equal(json.where, where, body);
      assert.ok(json.message?.startsWith(`${where}: expected`), json.message);
    }
    assert.equal(
      relay.endpoints[0]?.stats.events,
      before,
      'nothing of a refused envelope is queued',
    );
  });

  it('answers 401 for a missing or wrong token, 202 for any configured one', async () => {
    for (const auth of [
      undefined,
      'Bearer wrong',
      'Bearer s3cre',
      'Basic czNjcmV0',
      's3cret',
      'Bearer',
    ]) {
      const headers: Record<string, string> = { 'content-type': V1 };
      if (auth !== undefined) headers['authorization'] = auth;
      const res = await relay.ingest.inject({
        method: 'POST',
        url: '/events',
        headers,
        body: envelope(pushEvent()),
      });
      assert.equal(res.statusCode, 401, String(auth));
      assert.equal(res.json<Body>().error, 'unauthorized');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
    const ok = await post(envelope(pushEvent()), { authorization: 'Bearer other-token' });
    assert.equal(ok.statusCode, 202);
  });

  it('answers 413 over http.maxBodySize', async () => {
    const big = envelope(pushEvent({ padding: 'x'.repeat(4096) }));
    const res = await post(big);
    assert.equal(res.statusCode, 413);
    assert.equal(res.json<Body>().error, 'payload_too_large');
    assert.match(res.json<Body>().message ?? '', /2048 bytes/);
  });

  it('answers 404 in JSON elsewhere', async () => {
    const res = await relay.ingest.inject({
      method: 'GET',
      url: '/events',
      headers: { authorization: 'Bearer s3cret' },
    });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<Body>().error, 'not_found');
  });

  it('acknowledges a re-sent event id without delivering it again', async () => {
    const e = pushEvent();
    const before = relay.endpoints[0]?.stats.events ?? 0;
    const first = await post(envelope(e));
    assert.deepEqual(first.json(), { accepted: 1, duplicates: 0 });
    const again = await post(envelope(e, pushEvent()));
    assert.equal(again.statusCode, 202);
    assert.deepEqual(again.json(), { accepted: 1, duplicates: 1 });
    const twiceInOne = await post(envelope(e, e));
    assert.deepEqual(twiceInOne.json(), { accepted: 0, duplicates: 2 });
    assert.equal(relay.endpoints[0]?.stats.events, before + 2);
    assert.equal(relay.ingestStats.duplicates, 3);
  });

  it('answers 503 once shutdown begins, and keeps nothing of the refused request', async () => {
    relay.beginShutdown();
    const e = pushEvent();
    const res = await post(envelope(e));
    assert.equal(res.statusCode, 503);
    assert.equal(res.json<Body>().error, 'shutting_down');
  });

  it('counts ingest requests by status', () => {
    const requests = relay.ingestStats.requests;
    for (const code of [202, 400, 401, 404, 413, 415, 503]) {
      assert.ok((requests.get(code) ?? 0) > 0, `no ${code} counted`);
    }
  });
});

describe('RecentIds (re-send detection)', () => {
  it('forgets ids after the window, oldest first', async () => {
    const clock = new FakeClock();
    const ids = new RecentIds(1000, 100, clock);
    ids.add('a');
    await clock.advance(600);
    ids.add('b');
    assert.ok(ids.has('a') && ids.has('b'));
    await clock.advance(400);
    assert.equal(ids.has('a'), false, 'a is 1000 ms old: out of the window');
    assert.ok(ids.has('b'));
    await clock.advance(600);
    assert.equal(ids.has('b'), false);
    assert.equal(ids.size, 0);
  });

  it('keeps at most maxIds, dropping the oldest', () => {
    const ids = new RecentIds(60_000, 3, new FakeClock());
    for (const id of ['a', 'b', 'c', 'd']) ids.add(id);
    assert.equal(ids.size, 3);
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((id) => ids.has(id)),
      [false, true, true, true],
    );
  });

  it('a deleted then re-added id lives for a full window from its re-adding', async () => {
    const clock = new FakeClock();
    const ids = new RecentIds(1000, 100, clock);
    ids.add('a');
    ids.delete('a');
    await clock.advance(500);
    ids.add('a');
    await clock.advance(700);
    assert.ok(ids.has('a'), 'the stale first entry must not expire the re-added id');
    await clock.advance(300);
    assert.equal(ids.has('a'), false);
  });

  it('ids refused over and over neither push out live ones nor keep their old times', async () => {
    const clock = new FakeClock();
    const ids = new RecentIds(1000, 3, clock);
    ids.add('a');
    ids.delete('a');
    await clock.advance(500);
    ids.add('a');
    ids.add('b');
    // Each refused request leaves a stale entry behind; far more of them than maxIds.
    for (let i = 0; i < 50; i++) {
      ids.add(`refused-${String(i % 7)}`);
      ids.delete(`refused-${String(i % 7)}`);
    }
    assert.equal(ids.size, 2);
    await clock.advance(700);
    assert.ok(ids.has('a') && ids.has('b'), 'live ids survive the stale ones');
    await clock.advance(300);
    assert.equal(ids.has('a'), false, 'a expires a window after its re-adding');
    assert.equal(ids.size, 0);
  });

  it('a zero window remembers nothing', () => {
    const ids = new RecentIds(0, 100, new FakeClock());
    ids.add('a');
    assert.equal(ids.has('a'), false);
  });
});

describe('ingest: deeply nested JSON inside an event', () => {
  const scope = closedAfterTests();
  /** An event whose `x` field nests `depth` arrays. */
  const deep = (depth: number): Record<string, unknown> =>
    pushEvent({ x: JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`) as unknown });

  it('answers 400 naming the event when it nests too deeply to relay, never 500', async () => {
    const rx = await scope.receiver();
    const relay = await scope.relay([{ name: 'ep', url: rx.url }], {
      http: { maxBodySize: '1MiB' },
    });
    const ok = pushEvent();
    // Built as text: the test's own JSON.stringify would run out of stack too.
    const depth = 20_000;
    const res = await relay.post(
      `{"events":[${JSON.stringify(ok)},{"id":"deep","action":"push","target":{},"x":${'['.repeat(depth)}1${']'.repeat(depth)}}]}`,
    );
    assert.equal(res.status, 400);
    const body = (await res.json()) as Body;
    assert.equal(body.error, 'bad_envelope');
    assert.equal(body.where, 'events[1]');
    assert.match(body.message ?? '', /nested too deeply/);
    // Nothing of the refused request was accepted; the next request is served as usual.
    assert.equal((await relay.post(envelope(ok))).status, 202);
    await rx.waitFor(1);
    assert.deepEqual(rx.ids(), [ok['id']]);
  });

  it('relays a few hundred levels through every format', async () => {
    const [env, ce, tpl] = await Promise.all([
      scope.receiver(),
      scope.receiver(),
      scope.receiver(),
    ]);
    const relay = await scope.relay([
      { name: 'envelope', url: env.url },
      { name: 'ce', url: ce.url, format: { type: 'cloudevents', mode: 'structured' } },
      { name: 'tpl', url: tpl.url, format: { type: 'template', body: { id: '{{ event.id }}' } } },
    ]);
    const event = deep(500);
    assert.equal((await relay.post(envelope(event))).status, 202);
    for (const r of [env, ce, tpl]) await r.waitFor(1);
    assert.deepEqual(env.events()[0], event);
    const idOf = (body: string | undefined): string =>
      (JSON.parse(body ?? '{}') as { id: string }).id;
    assert.equal(idOf(ce.requests[0]?.body), event['id']);
    assert.equal(idOf(tpl.requests[0]?.body), event['id']);
  });
});

describe('ingest when something unexpected fails', () => {
  it('answers 500 internal, logs the error with its stack, and keeps the events re-sendable', async () => {
    const storage = new MemoryStorage();
    let broken = true;
    const append = storage.append.bind(storage);
    storage.append = (events, targets) =>
      broken ? Promise.reject(new TypeError('a defect in storage')) : append(events, targets);
    const { log, lines } = memoryLogger();
    const relay = buildRelay(makeConfig([{ name: 'a', url: 'http://127.0.0.1:9/' }]), {
      log,
      storage: { storage, journal: undefined, kind: 'memory' },
    });
    const event = pushEvent();
    const post = () =>
      relay.ingest.inject({
        method: 'POST',
        url: '/events',
        headers: { 'content-type': V1 },
        body: envelope(event),
      });
    const res = await post();
    assert.equal(res.statusCode, 500);
    assert.equal(res.json<Body>().error, 'internal');
    assert.doesNotMatch(res.body, /defect/, 'the answer does not show the error itself');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = logged.find((l) => l['msg'] === 'ingest failed unexpectedly');
    const err = line?.['err'] as { stack?: string } | undefined;
    assert.match(err?.stack ?? '', /TypeError: a defect in storage\n\s+at /);
    assert.equal(
      logged.some((l) => String(l['msg']).includes('shutting down')),
      false,
      'a defect is not reported as a shutdown',
    );
    broken = false;
    const again = await post();
    assert.equal(again.statusCode, 202);
    assert.deepEqual(again.json(), { accepted: 1, duplicates: 0 });
    await relay.drain(0);
    await relay.ingest.close();
  });
});

describe('ingest and the registries', () => {
  it("acknowledges the registry's pulls for the relay's own reads without relaying them", async () => {
    const config = makeConfig([{ name: 'a', url: 'http://127.0.0.1:9/', backoff: '1h' }]);
    const relay = buildRelay(config, { log: memoryLogger().log });
    try {
      const own = pushEvent({
        action: 'pull',
        request: { host: 'r', method: 'GET', useragent: 'registry-relay/0.1 (image facts)' },
      });
      const user = pushEvent({
        action: 'pull',
        request: { host: 'r', method: 'GET', useragent: 'docker/27' },
      });
      const res = await relay.ingest.inject({
        method: 'POST',
        url: '/events',
        headers: { 'content-type': V1 },
        payload: envelope(own, user),
      });
      assert.equal(res.statusCode, 202);
      assert.deepEqual(res.json(), { accepted: 1, duplicates: 0 });
      const text = await relay.metrics.register.metrics();
      assert.match(text, /^relay_ingest_own_reads_total 1$/m);
    } finally {
      await relay.drain(0);
      await relay.ingest.close();
    }
  });

  it('accepts a tag-only push about a configured registry under an id unique to the request', async () => {
    const config = makeConfig([{ name: 'a', url: 'http://127.0.0.1:9/', backoff: '1h' }], {
      registries: [{ name: 'q', url: 'http://127.0.0.1:9', hosts: ['quay.example.com'] }],
      sources: [{ name: 'quay', type: 'quay', auth: { none: true } }],
    });
    const relay = buildRelay(config, { log: memoryLogger().log });
    try {
      const body = JSON.stringify({
        repository: 'team/app',
        docker_url: 'quay.example.com/team/app',
        updated_tags: ['latest'],
      });
      const send = () =>
        relay.ingest.inject({
          method: 'POST',
          url: '/sources/quay',
          headers: { 'content-type': 'application/json' },
          payload: body,
        });
      // Not de-duplicated at ingest: the resolved digest decides (a re-push or a re-send).
      assert.deepEqual((await send()).json(), { accepted: 1, duplicates: 0 });
      assert.deepEqual((await send()).json(), { accepted: 1, duplicates: 0 });
      const other = buildRelay(
        makeConfig([{ name: 'a', url: 'http://127.0.0.1:9/', backoff: '1h' }], {
          sources: [{ name: 'quay', type: 'quay', auth: { none: true } }],
        }),
        {
          log: memoryLogger().log,
        },
      );
      const again = () =>
        other.ingest.inject({
          method: 'POST',
          url: '/sources/quay',
          headers: { 'content-type': 'application/json' },
          payload: body,
        });
      // Without registries: the id from repository and tags, a re-send is a duplicate.
      assert.deepEqual((await again()).json(), { accepted: 1, duplicates: 0 });
      assert.deepEqual((await again()).json(), { accepted: 0, duplicates: 1 });
      await other.drain(0);
      await other.ingest.close();
    } finally {
      await relay.drain(0);
      await relay.ingest.close();
    }
  });
});
