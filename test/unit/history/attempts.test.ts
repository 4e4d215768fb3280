// The attempts log in memory: the newest `keep` per endpoint, paged newest first, filtered
// by result or status, and shown without a secret: header values, URL credentials, cookies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttemptLog,
  BODY_KEPT,
  logEntry,
  MemoryAttempts,
  parseStatusFilter,
  REDACTED,
  withoutBodies,
  type RawAttempt,
} from '../../../src/history/attempts.ts';
import { AttemptQueryError } from '../../../src/core/errors.ts';

const AT = Date.parse('2026-12-01T09:00:00Z');

function raw(i: number, status?: number): RawAttempt {
  return {
    at: AT + i,
    durationMs: 1.23456,
    deliveryId: `d-${String(i)}`,
    events: [{ id: `e-${String(i)}` }],
    headers: [
      'content-type',
      'application/json',
      'authorization',
      'Bearer s3cret',
      'webhook-signature',
      'v1,abc',
    ],
    body: '{"events":[]}',
    ...(status === undefined
      ? { code: 'ECONNREFUSED', message: 'connection refused' }
      : {
          answer: {
            status,
            headers: { 'set-cookie': ['a=b'], 'x-request-id': 'r1' },
            bodySize: 5,
            body: 'hello',
          },
        }),
  };
}

describe('attempts log', () => {
  it('keeps the newest `keep` per endpoint, newest first, paged with `before`', async () => {
    const log = new MemoryAttempts(3, 'relay-a');
    for (let i = 1; i <= 10; i++) log.add('ci', 'http://ci.example/', raw(i, 200));
    log.add('other', 'http://o.example/', raw(99, 200));
    const page = await log.list('ci', { limit: 2 });
    assert.deepEqual(
      page.map((r) => r.deliveryId),
      ['d-10', 'd-9'],
    );
    const next = await log.list('ci', { limit: 10, before: page[1]?.seq });
    assert.deepEqual(
      next.map((r) => r.deliveryId),
      ['d-8'],
      'only the newest 3 are kept',
    );
    assert.deepEqual(
      (await log.forEvent('e-99')).map((r) => r.endpoint),
      ['other'],
    );
  });

  it('filters by result or status, and names a filter it cannot read', async () => {
    const log = new MemoryAttempts(10, 'relay-a');
    log.add('ci', 'u', raw(1, 200));
    log.add('ci', 'u', raw(2, 503));
    log.add('ci', 'u', raw(3));
    const by = async (status: string) =>
      (await log.list('ci', { limit: 10, status: parseStatusFilter(status) })).map(
        (r) => r.deliveryId,
      );
    assert.deepEqual(await by('success'), ['d-1']);
    assert.deepEqual(await by('failed'), ['d-3', 'd-2']);
    assert.deepEqual(await by('error'), ['d-3']);
    assert.deepEqual(await by('503'), ['d-2']);
    assert.equal(parseStatusFilter(''), undefined);
    assert.throws(() => parseStatusFilter('often'), AttemptQueryError);
  });

  it('shows no secret: header values redacted but content and webhook ids, cookies hidden', () => {
    const entry = logEntry('ci', 'relay-a', 'http://ci.example/', raw(1, 200));
    assert.deepEqual(entry.request.headers, {
      'content-type': 'application/json',
      authorization: REDACTED,
      'webhook-signature': REDACTED,
      'content-length': '13',
    });
    assert.deepEqual(entry.response?.headers, { 'set-cookie': REDACTED, 'x-request-id': 'r1' });
    assert.equal(entry.result, 'success');
    assert.equal(entry.durationMs, 1.235);
    const error = logEntry('ci', 'relay-a', 'u', raw(2));
    assert.deepEqual(
      [error.result, error.code, error.response],
      ['error', 'ECONNREFUSED', undefined],
    );
    const bare = withoutBodies({ ...entry, seq: 1 });
    assert.equal(bare.request.body, undefined);
    assert.equal(bare.response?.body, undefined);
    assert.equal(bare.message, undefined);
  });

  it('keeps the first 4 KiB of a body, cut on a character boundary', () => {
    const body = 'é'.repeat(BODY_KEPT);
    const entry = logEntry('ci', 'r', 'u', { ...raw(1, 200), body });
    const kept = entry.request.body ?? '';
    assert.ok(Buffer.byteLength(kept) <= BODY_KEPT);
    assert.ok(kept.length >= BODY_KEPT / 2 - 1);
    assert.doesNotMatch(kept, /\uFFFD/);
    assert.equal(entry.request.bodySize, Buffer.byteLength(body));
  });

  it('without a durable store it answers from memory, and the URL is shown redacted', async () => {
    const log = new AttemptLog({ keep: 5, durable: undefined, relay: 'relay-a' });
    log.recorder('ci', 'https://user:pass@ci.example/hook?token=abc')(raw(1, 200));
    const [entry] = await log.list('ci', { limit: 5 });
    assert.ok(entry);
    assert.doesNotMatch(entry.request.url, /pass|token=abc/);
    assert.match(entry.request.url, /^https:\/\/ci\.example/);
  });
});
