// docs/events.md, the event reference, against the published schema: every kind is in the
// actions table with its CloudEvents types, every detail field the page names is in the
// schema, and every field the schema has is on the page.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EVENT_KINDS } from '../../src/core/kinds.ts';
import { EVENT_SCHEMA } from '../support/schema.ts';

const PAGE = readFileSync(new URL('../../docs/events.md', import.meta.url), 'utf8');
type Schema = {
  $ref?: string;
  properties?: Record<string, Schema>;
  enum?: string[];
  const?: string;
};
const defs = EVENT_SCHEMA['$defs'] as Record<string, Schema>;
const resolve = (s: Schema): Schema =>
  s.$ref === undefined ? s : (defs[s.$ref.replace('#/$defs/', '')] ?? {});
const detailOf = (kind: string): Schema => resolve(defs['relay']?.properties?.[kind] ?? {});

/** The field a kind's state is read from (see core/kinds.ts stateOf). */
const STATE: Readonly<Record<string, string>> = {
  scan: 'status',
  build: 'phase',
  quota: 'state',
  repository: 'change',
  lint: 'status',
  mirror: 'status',
};

describe('the event reference (docs/events.md)', () => {
  for (const kind of EVENT_KINDS) {
    it(`${kind}: the page and the schema name the same detail fields`, () => {
      const schemaFields = Object.keys(detailOf(kind).properties ?? {}).sort();
      assert.ok(schemaFields.length > 0, `the schema describes relay.${kind}`);
      const pageFields = [
        ...new Set(
          [...PAGE.matchAll(new RegExp(`^\\| \`relay\\.${kind}\\.([A-Za-z]+)\``, 'gm'))].map(
            (m) => m[1] ?? '',
          ),
        ),
      ].sort();
      assert.deepEqual(pageFields, schemaFields);
    });

    it(`${kind}: in the actions table, with a CloudEvents type for each state`, () => {
      const row = PAGE.split('\n').find((l) => l.startsWith(`| \`${kind}\``));
      assert.ok(row, `no row for ${kind}`);
      assert.match(row, new RegExp(`registry\\.${kind}\\.`));
      const field = STATE[kind];
      if (field === undefined) return;
      const states = detailOf(kind).properties?.[field];
      const values = states?.enum ?? (states?.const === undefined ? [] : [states.const]);
      for (const v of values) {
        // created is zot's action; renamed and deleted are GitLab's registry actions.
        const line = kind === 'repository' && v !== 'created' ? PAGE : row;
        assert.match(line, new RegExp(`\\.${v}\\b`), `registry.${kind}.${v}`);
      }
    });
  }

  it('lists every action of the schema', () => {
    const action = defs['event']?.properties?.['action'] as { examples?: string[] } | undefined;
    for (const a of action?.examples ?? []) {
      assert.ok(PAGE.includes(`| \`${a}\``), `${a} is in the actions table`);
    }
  });
});
