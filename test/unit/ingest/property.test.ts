import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { request } from 'undici';
import {
  envelope,
  pushEvent,
  startReceiver,
  startTestRelay,
  V1,
  waitUntil,
} from '../../support/helpers.ts';

// Printable ASCII: what an HTTP client can put in a header value.
const printable = fc.stringMatching(/^[ -~]{0,40}$/);

const contentType = fc.oneof(
  fc.constantFrom(
    V1,
    'application/vnd.docker.distribution.events.v2+json',
    'application/json',
    'application/json; charset=latin1',
    'text/plain',
    'application/x-www-form-urlencoded',
    '',
  ),
  printable,
);

const eventish = fc.record(
  {
    id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    action: fc.oneof(fc.constantFrom('push', 'pull', 'mount', 'delete'), fc.string(), fc.integer()),
    target: fc.oneof(fc.object(), fc.string(), fc.constant(null)),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

/** JSON nested `depth` levels deep, alternating arrays and objects. */
const nested = (depth: number): string => {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '[' : '{"k":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return `${open}1${close}`;
};

/** Registry-shaped events carrying deep or wide JSON, as a buggy or hostile sender might. */
const deepOrWide = fc.oneof(
  fc
    .integer({ min: 1, max: 12_000 })
    .map(
      (depth) =>
        `{"events":[{"id":"deep-${String(depth)}","action":"push","target":{},"x":${nested(depth)}}]}`,
    ),
  fc
    .array(fc.oneof(fc.json({ maxDepth: 2 }), fc.constant('{}')), {
      minLength: 100,
      maxLength: 2000,
    })
    .map(
      (items) => `{"events":[{"id":"wide","action":"push","target":{},"x":[${items.join(',')}]}]}`,
    ),
);

const body = fc.oneof(
  deepOrWide,
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.json({ maxDepth: 4 }),
  fc
    .anything({ maxDepth: 3 })
    .filter((v) => v !== undefined)
    .map((v) => JSON.stringify(v)),
  fc.array(eventish, { maxLength: 5 }).map((events) => JSON.stringify({ events })),
  fc.array(eventish, { maxLength: 3 }).map((events) => JSON.stringify({ events }).slice(0, -3)),
);

const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'x-a',
    'content-encoding',
    'transfer-encoding-x',
    'expect-x',
    'accept',
    'x-forwarded-for',
    'authorization',
  ),
  printable,
  { maxKeys: 3 },
);

describe('ingest under arbitrary input', async () => {
  const rx = await startReceiver();
  const r = await startTestRelay([{ name: 'rx', url: rx.url }], { http: { maxBodySize: 65_536 } });
  after(async () => {
    await r.stop();
    await rx.close();
  });
  const validIds: string[] = [];
  const sendValid = async (): Promise<void> => {
    const e = pushEvent();
    validIds.push(e['id'] as string);
    const res = await r.post(envelope(e));
    assert.equal(res.status, 202);
  };

  /** Accepted arbitrary events are delivered too: the valid ones are waited for by id. */
  const allValidDelivered = async (): Promise<void> => {
    const missing = (): string[] => {
      const got = new Set(rx.ids());
      return validIds.filter((id) => !got.has(id));
    };
    await waitUntil(() => missing().length === 0, 20_000, 'valid events').catch(() => undefined);
    assert.deepEqual(missing(), [], 'valid events not delivered');
  };

  it('never answers 3xx or 5xx, and valid traffic between is still delivered', async () => {
    await fc.assert(
      fc.asyncProperty(body, contentType, extraHeaders, async (payload, type, headers) => {
        const res = await request(`${r.ingestUrl}/events`, {
          method: 'POST',
          headers: { ...headers, ...(type === '' ? {} : { 'content-type': type }) },
          body: payload,
        });
        const text = await res.body.text();
        assert.ok(
          (res.statusCode >= 200 && res.statusCode < 300) ||
            (res.statusCode >= 400 && res.statusCode < 500),
          `answered ${res.statusCode} ${text}`,
        );
        const json = JSON.parse(text) as { error?: string; message?: string };
        if (res.statusCode >= 400)
          assert.ok(typeof json.error === 'string' && typeof json.message === 'string');
        await sendValid();
      }),
      { seed: 20261123, numRuns: 400 },
    );
    await allValidDelivered();
  });

  it('survives raw garbage on the socket', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), async (bytes) => {
        const url = new URL(r.ingestUrl);
        await new Promise<void>((resolve) => {
          const sock = connect(Number(url.port), url.hostname, () => {
            sock.end(Buffer.from(bytes));
          });
          sock.on('data', () => undefined);
          sock.on('error', () => {
            resolve();
          });
          sock.on('close', () => {
            resolve();
          });
          sock.setTimeout(2000, () => {
            sock.destroy();
          });
        });
        await sendValid();
      }),
      { seed: 7, numRuns: 100 },
    );
    await allValidDelivered();
    assert.equal((await fetch(`${r.debugUrl}/healthz`)).status, 200);
  });
});
