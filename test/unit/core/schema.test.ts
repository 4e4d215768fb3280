// Everything the relay delivers is valid against the published schema: Distribution's own
// envelopes, every sender's fixtures as the adapters normalise them, and an event with every
// fact enrichment adds. Reconciled and enriched events are checked where they are made
// (test/unit/registry/).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SAMPLE_EVENT } from '../../../src/endpoint/format/template.ts';
import { buildDebugApp } from '../../../src/ops/routes.ts';
import { SOURCE_TYPES } from '../../../src/sources/adapter.ts';
import { ADAPTERS } from '../../../src/sources/index.ts';
import { assertValidEnvelope, EVENT_SCHEMA } from '../../support/schema.ts';

const FIXTURES = new URL('../../fixtures/', import.meta.url);

describe('the event schema', () => {
  it('is a JSON Schema 2020-12 document with a stable id', () => {
    assert.equal(EVENT_SCHEMA['$schema'], 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(EVENT_SCHEMA['$id'], 'urn:registry-relay:schema:event:1');
  });

  it('validates every envelope registry 2.8.2 sent (the recorded fixtures)', () => {
    let n = 0;
    for (const file of ['plain.jsonl', 'references.jsonl']) {
      for (const line of readFileSync(new URL(`registry-2.8.2/${file}`, FIXTURES), 'utf8').split(
        '\n',
      )) {
        if (line.trim() === '') continue;
        const { body } = JSON.parse(line) as { body: string };
        assertValidEnvelope(JSON.parse(body), `${file} request ${String(++n)}`);
      }
    }
    assert.ok(n > 5);
  });

  it("validates every sender's fixtures as the adapters normalise them, with the relay's fields", () => {
    let n = 0;
    let ignored = 0;
    for (const type of SOURCE_TYPES) {
      for (const file of readdirSync(new URL(`sources/${type}/`, FIXTURES)).filter((f) =>
        f.endsWith('.json'),
      )) {
        const raw = JSON.parse(
          readFileSync(new URL(`sources/${type}/${file}`, FIXTURES), 'utf8'),
        ) as Record<string, unknown>;
        // zot's fixtures hold the request's headers and its body.
        const withHeaders = type === 'zot' && raw['headers'] !== undefined;
        const body = withHeaders ? raw['body'] : raw;
        const headers = (withHeaders ? raw['headers'] : {}) as Record<string, string>;
        let normalized;
        try {
          normalized = ADAPTERS[type]({
            headers,
            body,
            receivedAt: Date.parse('2026-12-01T09:00:00Z'),
          });
        } catch (err) {
          assert.fail(`${type}/${file}: ${String(err)}`);
        }
        if (normalized.kind !== 'events') {
          ignored++;
          continue;
        }
        const events = normalized.events.map((e) => ({
          ...e,
          relay: { ...(e['relay'] as object | undefined), source: type, type, original: body },
        }));
        assertValidEnvelope({ events }, `${type}/${file}`);
        n += events.length;
      }
    }
    assert.ok(n >= 30, `${String(n)} events`);
    assert.ok(ignored <= 4, `${String(ignored)} fixtures of unmapped types`);
  });

  it('validates an event with every fact enrichment adds', () => {
    assertValidEnvelope({ events: [SAMPLE_EVENT] }, 'the template sample');
  });

  it('is served on the ops listener', async () => {
    const app = buildDebugApp({
      log: (await import('../../support/helpers.ts')).memoryLogger().log,
      endpoints: () => [],
      config: () => ({
        hash: 'x',
        loadedAt: 0,
        last: undefined,
        counts: { success: 0, failure: 0 },
      }),
      ingest: { events: 0, duplicates: 0, requests: new Map() },
      metrics: (await import('../../../src/metrics/registry.ts')).createMetrics(),
      journal: undefined,
      startedAt: 0,
      isReady: () => true,
      admin: undefined,
    } as unknown as Parameters<typeof buildDebugApp>[0]);
    const res = await app.inject({ method: 'GET', url: '/schema/event.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /application\/schema\+json/);
    assert.deepEqual(res.json(), EVENT_SCHEMA);
    await app.close();
  });
});
