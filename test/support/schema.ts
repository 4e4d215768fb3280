// The published event schema (schema/event.schema.json), compiled once with ajv (JSON
// Schema 2020-12), for every test that checks what the relay delivers against it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as formats from 'ajv-formats';

export const EVENT_SCHEMA = JSON.parse(
  readFileSync(new URL('../../schema/event.schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

const ajv = new Ajv2020({ allErrors: true, strict: true });
// ajv-formats is CommonJS: under ESM its function is the namespace's default.
const addFormats = (formats as unknown as { default: (a: Ajv2020) => Ajv2020 }).default;
addFormats(ajv);
const validate = ajv.compile(EVENT_SCHEMA);

/** Fails with every schema error (path and message) unless `envelope` is valid. */
export function assertValidEnvelope(envelope: unknown, what: string): void {
  const ok = validate(envelope);
  assert.ok(ok, `${what}: ${ajv.errorsText(validate.errors, { separator: '; ' })}`);
}
