// The README's config examples, pasted as written, are valid configs: every ```yaml block
// that is a whole config, a `sources:` list, an endpoint or a `filter:` block.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../src/config/load.ts';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...README.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

/**
 * Every ${NAME} the block uses: a Standard Webhooks secret (valid wherever a secret or
 * token goes), or a URL-safe one where the line is a `pathSecret`.
 */
function envFor(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const line of text.split('\n')) {
    for (const m of line.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      env[m[1] ?? ''] = line.includes('pathSecret')
        ? 'readme-example-value-0123456789'
        : `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    }
  }
  return env;
}

const ENDPOINT = { name: 'readme', url: 'http://127.0.0.1:9/' };

describe('README config examples', () => {
  it('has config examples', () => {
    assert.ok(blocks.length >= 5, `${String(blocks.length)} yaml blocks`);
  });
  for (const [i, text] of blocks.entries()) {
    const parsed = parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object') continue;
    // A list of endpoints, as pasted under notifications.endpoints.
    const doc = (
      Array.isArray(parsed) ? { notifications: { endpoints: parsed } } : parsed
    ) as Record<string, unknown>;
    const firstLine = text.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#')) ?? '';
    it(`yaml block ${String(i + 1)} (${firstLine.trim().slice(0, 50)}) is valid`, () => {
      let whole: Record<string, unknown>;
      if ('notifications' in doc) whole = doc;
      else if ('sources' in doc) whole = { ...doc, notifications: { endpoints: [ENDPOINT] } };
      else if (['http', 'storage', 'log', 'shutdown'].some((k) => k in doc)) {
        whole = { ...doc, notifications: { endpoints: [ENDPOINT] } };
      } else if (['filter', 'format', 'batch', 'signing', 'tls', 'retry'].some((k) => k in doc)) {
        whole = { notifications: { endpoints: [{ ...ENDPOINT, ...doc }] } };
      } else if ('name' in doc && 'url' in doc) whole = { notifications: { endpoints: [doc] } };
      else if ('endpoints' in doc) whole = { notifications: doc };
      else {
        // Fragments of other files (compose, Kubernetes) are checked elsewhere.
        return;
      }
      assert.doesNotThrow(
        () => parseConfig(stringify(whole), `README block ${String(i + 1)}`, envFor(text)),
        text,
      );
    });
  }
});
