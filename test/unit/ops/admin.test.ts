// The admin API's routes through inject(): the one authorisation hook, each resource's
// answers and refusals, and an unexpected failure answered as one. No process, no socket.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BearerTokens } from '../../../src/core/tokens.ts';
import { IngestStats } from '../../../src/metrics/ingest-stats.ts';
import { createMetrics } from '../../../src/metrics/registry.ts';
import { buildDebugApp } from '../../../src/ops/routes.ts';
import { buildRelay, type Relay } from '../../../src/relay/app.ts';
import {
  envelope,
  FakeClock,
  makeConfig,
  memoryLogger,
  pushEvent,
  V1,
} from '../../support/helpers.ts';

const TOKEN = 'unit-admin-token';
const bearer = { authorization: `Bearer ${TOKEN}` };

const relays: Relay[] = [];
after(async () => {
  for (const r of relays) {
    await r.drain(0);
    await Promise.all([r.ingest.close(), r.debug.close()]);
  }
});

function relay(overrides: Record<string, unknown> = {}): Relay {
  const config = makeConfig(
    [
      { name: 'ci', url: 'http://127.0.0.1:9/', backoff: '1h' },
      { name: 'off', url: 'http://127.0.0.1:9/', disabled: true },
    ],
    overrides,
  );
  const r = buildRelay(config, { log: memoryLogger().log, clock: new FakeClock() });
  relays.push(r);
  return r;
}

const withTokens = { http: { debug: { auth: { tokens: [TOKEN] } } } };

async function call(
  r: Relay,
  method: 'GET' | 'POST',
  url: string,
  headers: Record<string, string> = {},
  body?: unknown,
) {
  const res = await r.debug.inject({
    method,
    url: `/api/v1${url}`,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

describe('admin API routes', () => {
  it('one authorisation hook: read open, writes read-only without tokens, 401 without a valid one', async () => {
    const open = relay();
    assert.equal((await call(open, 'GET', '/endpoints')).status, 200);
    const readOnly = await call(open, 'POST', '/endpoints/ci/pause');
    assert.deepEqual([readOnly.status, readOnly.body['error']], [403, 'read_only']);
    assert.match(String(readOnly.body['message']), /http\.debug\.auth\.tokens/);
    assert.deepEqual((await call(open, 'GET', '/session')).body, {
      readOnly: true,
      authorized: false,
    });

    const guarded = relay(withTokens);
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }]) {
      const refused = await call(guarded, 'POST', '/endpoints/ci/pause', headers);
      assert.deepEqual([refused.status, refused.body['error']], [401, 'unauthorized']);
    }
    // Refused for the token before the body is read: a bad body without a token is a 401.
    const badBody = await call(guarded, 'POST', '/dead-letters/purge', {}, { nope: 1 });
    assert.equal(badBody.status, 401);
    const log = await call(guarded, 'GET', '/endpoints/ci/attempts');
    assert.deepEqual([log.status, log.body['error']], [401, 'unauthorized']);
    assert.deepEqual((await call(guarded, 'GET', '/session', bearer)).body, {
      readOnly: false,
      authorized: true,
    });
  });

  it('endpoints: states, pause and resume, unknown and disabled names', async () => {
    const r = relay(withTokens);
    const list = await call(r, 'GET', '/endpoints');
    const names = (list.body['endpoints'] as { name: string; state: string }[]).map((e) => [
      e.name,
      e.state,
    ]);
    assert.deepEqual(names, [
      ['ci', 'delivering'],
      ['off', 'disabled'],
    ]);
    const unknown = await call(r, 'GET', '/endpoints/nope');
    assert.deepEqual([unknown.status, unknown.body['error']], [404, 'unknown_endpoint']);
    assert.match(String(unknown.body['message']), /configured: ci, off/);
    const paused = await call(r, 'POST', '/endpoints/ci/pause', bearer);
    assert.deepEqual([paused.status, paused.body['state']], [200, 'paused']);
    const again = await call(r, 'POST', '/endpoints/ci/pause', bearer);
    assert.deepEqual([again.status, again.body['error']], [409, 'already_paused']);
    assert.equal(
      (await call(r, 'POST', '/endpoints/ci/resume', bearer)).body['state'],
      'delivering',
    );
    const notPaused = await call(r, 'POST', '/endpoints/ci/resume', bearer);
    assert.deepEqual([notPaused.status, notPaused.body['error']], [409, 'not_paused']);
    const disabled = await call(r, 'POST', '/endpoints/off/pause', bearer);
    assert.deepEqual([disabled.status, disabled.body['error']], [409, 'disabled']);
    const test = await call(r, 'POST', '/endpoints/ci/test', bearer, { events: [] });
    assert.deepEqual([test.status, test.body['error']], [400, 'bad_envelope']);
  });

  it('attempts: a bad status filter, the log turned off, an unknown endpoint', async () => {
    const r = relay(withTokens);
    const bad = await call(r, 'GET', '/endpoints/ci/attempts?status=often', bearer);
    assert.deepEqual([bad.status, bad.body['error']], [400, 'bad_request']);
    assert.match(String(bad.body['message']), /status "often"/);
    const unknown = await call(r, 'GET', '/endpoints/nope/attempts', bearer);
    assert.equal(unknown.status, 404);
    const empty = await call(r, 'GET', '/endpoints/ci/attempts', bearer);
    assert.deepEqual(empty.body, { attempts: [], bodies: true, next: null });
    const off = relay({ http: { debug: { auth: { tokens: [TOKEN] }, attempts: { keep: 0 } } } });
    const none = await call(off, 'GET', '/endpoints/ci/attempts', bearer);
    assert.deepEqual([none.status, none.body['error']], [409, 'attempts_off']);
  });

  it('events: where an accepted event waits; an unknown id is a 404', async () => {
    const r = relay(withTokens);
    const event = pushEvent();
    const posted = await r.ingest.inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': V1 },
      payload: envelope(event),
    });
    assert.equal(posted.statusCode, 202);
    const where = await call(r, 'GET', `/events/${String(event['id'])}`);
    assert.equal(where.status, 200);
    assert.deepEqual(where.body['sources'], ['trail']);
    const [ci] = where.body['endpoints'] as { endpoint: string; state: string }[];
    assert.deepEqual([ci?.endpoint, ci?.state], ['ci', 'pending']);
    const unknown = await call(r, 'GET', '/events/never-seen');
    assert.deepEqual([unknown.status, unknown.body['error']], [404, 'unknown_event']);
  });

  it('dead letters: none in memory; with the journal a bad since and an unknown endpoint are named', async () => {
    const memory = relay(withTokens);
    const none = await call(memory, 'GET', '/dead-letters');
    assert.deepEqual([none.status, none.body['error']], [409, 'not_durable']);
    const journal = relay({
      ...withTokens,
      storage: { path: mkdtempSync(join(tmpdir(), 'relay-unit-admin-')) },
    });
    assert.deepEqual((await call(journal, 'GET', '/dead-letters')).body, {
      count: 0,
      deadLetters: [],
    });
    const since = await call(journal, 'GET', '/dead-letters?since=soon');
    assert.deepEqual([since.status, since.body['error']], [400, 'bad_request']);
    const unknown = await call(journal, 'GET', '/dead-letters?endpoint=nope');
    assert.deepEqual([unknown.status, unknown.body['error']], [404, 'unknown_endpoint']);
    assert.match(String(unknown.body['message']), /known: ci, off/);
    const replay = await call(journal, 'POST', '/dead-letters/replay', bearer);
    assert.deepEqual([replay.status, replay.body['error']], [409, 'nothing_to_replay']);
    assert.deepEqual((await call(journal, 'POST', '/dead-letters/purge', bearer)).body, {
      purged: 0,
    });
  });

  it('reload: refused without a config file', async () => {
    const r = relay(withTokens);
    const reload = await call(r, 'POST', '/reload', bearer);
    assert.deepEqual([reload.status, reload.body['error']], [409, 'no_config_file']);
  });

  it('an unexpected failure is 500 internal, logged with its stack, never another code', async () => {
    const metrics = createMetrics();
    const { log, lines } = memoryLogger();
    const clock = new FakeClock();
    const app = buildDebugApp({
      log,
      endpoints: () => [],
      ingest: new IngestStats(metrics),
      metrics,
      journal: undefined,
      config: () => ({}),
      startedAt: clock.now(),
      isReady: () => true,
      admin: {
        clock,
        endpoints: {
          list: [],
          get: () => undefined,
          isPaused: () => false,
          inFlight: () => 0,
          pause: () => Promise.resolve(false),
          resume: () => Promise.resolve(false),
        },
        instance: 'unit',
        startedAt: clock.now(),
        tokens: new BearerTokens([TOKEN]),
        reload: () => Promise.reject(new TypeError('a defect in reload')),
        deadLetters: undefined,
      },
    });
    const res = await app.inject({ method: 'POST', url: '/api/v1/reload', headers: bearer });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json<{ error: string }>().error, 'internal');
    assert.doesNotMatch(res.body, /defect/);
    const line = lines
      .map((l) => JSON.parse(l) as { msg?: string; err?: { stack?: string } })
      .find((l) => l.msg === 'admin API failed unexpectedly');
    assert.match(line?.err?.stack ?? '', /TypeError: a defect in reload\n\s+at /);
    await app.close();
  });
});
