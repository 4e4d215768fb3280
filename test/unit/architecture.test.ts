// Rules of the code's shape that a reader relies on, checked on every run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? sources(join(dir, d.name))
      : d.name.endsWith('.ts')
        ? [join(dir, d.name)]
        : [],
  );
}

describe('architecture', () => {
  it('one clock: nothing in src/ reads the time but clock.ts', () => {
    const reads: string[] = [];
    for (const file of sources()) {
      if (file.endsWith('/clock.ts')) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/\bDate\.now\(\)|new Date\(\)|performance\.now\(\)|process\.hrtime/.test(line)) {
            reads.push(`${file.slice(SRC.length)}:${String(i + 1)}: ${line.trim()}`);
          }
        });
    }
    assert.deepEqual(reads, [], 'read the time through the injected Clock');
  });
});

describe('layers', () => {
  it('every module of src/ imports only from its own layer or a lower one', () => {
    const bin = new URL('../../node_modules/.bin/depcruise', import.meta.url).pathname;
    const run = spawnSync(
      bin,
      ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /no dependency violations found \((\d+) modules/);
  });
});
