// The README's config examples, pasted as written, are valid configs: every ```yaml block
// that is a whole config, a `sources:` list, an endpoint or a `filter:` block.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';

/** The README and every page of docs/: each of their examples is checked. */
const PAGES = [
  'README.md',
  ...readdirSync(new URL('../../docs/', import.meta.url))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const blocks = PAGES.flatMap((page) =>
  [
    ...readFileSync(new URL(`../../${page}`, import.meta.url), 'utf8').matchAll(
      /```yaml\n([\s\S]*?)```/g,
    ),
  ].map((m) => m[1] ?? ''),
);

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
      else if (['http', 'storage', 'log', 'shutdown', 'registries'].some((k) => k in doc)) {
        whole = { ...doc, notifications: { endpoints: [ENDPOINT] } };
      } else if (
        ['filter', 'format', 'batch', 'signing', 'tls', 'retry', 'enrich'].some((k) => k in doc)
      ) {
        whole = { notifications: { endpoints: [{ ...ENDPOINT, ...doc }] } };
      } else if ('name' in doc && 'url' in doc) whole = { notifications: { endpoints: [doc] } };
      else if ('endpoints' in doc) whole = { notifications: doc };
      else {
        // Fragments of other files (compose, Kubernetes) are checked elsewhere.
        return;
      }
      // A block that reads facts is checked with a registry to read them from.
      if (
        !('registries' in whole) &&
        /\b(enrich|platforms|signed|labels|artifactTypes):/.test(text)
      ) {
        whole = { ...whole, registries: [{ name: 'readme', url: 'http://127.0.0.1:9' }] };
      }
      assert.doesNotThrow(
        () => parseConfig(stringify(whole), `README block ${String(i + 1)}`, envFor(text)),
        text,
      );
    });
  }
});

describe('README and docs links', () => {
  /** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
  const slug = (heading: string) =>
    heading
      .replace(/^#+\s*/, '')
      .toLowerCase()
      .replace(/[^\w\- ]/g, '')
      .replace(/ /g, '-');
  const anchorsOf = (file: string) =>
    new Set(
      readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
        .split('\n')
        .filter((l) => /^#{1,6} /.test(l))
        .map(slug),
    );
  for (const page of [...PAGES, 'CONTRIBUTING.md']) {
    it(`every relative link of ${page} leads to a file and heading that exist`, () => {
      const text = readFileSync(new URL(`../../${page}`, import.meta.url), 'utf8');
      const broken: string[] = [];
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] ?? '';
        if (/^[a-z]+:/.test(link)) continue;
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? page : join(dirname(page), path);
        if (!existsSync(new URL(`../../${target}`, import.meta.url))) {
          broken.push(`${link}: no file ${target}`);
        } else if (
          anchor !== undefined &&
          target.endsWith('.md') &&
          !anchorsOf(target).has(anchor)
        ) {
          broken.push(`${link}: no heading #${anchor} in ${target}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});
