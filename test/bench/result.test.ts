// The benchmark table: a scenario that fails is a row saying so, and the others still print.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compare, failedRow, markdownTable } from '../../bench/result.ts';

describe('bench table', () => {
  it('shows a failed scenario as failed, beside the rows that succeeded', () => {
    const table = markdownTable([
      compare(
        { scenario: 'ingest', figure: 'accepted ev/s', relay: 600, baseline: 1000, unit: 'ev/s' },
        0.5,
      ),
      failedRow(
        'latency',
        new Error('after 120 s the receivers were at 10999 of 11000 events\nstack'),
      ),
    ]);
    const lines = table.split('\n');
    assert.equal(lines.length, 4);
    assert.match(
      lines[2] ?? '',
      /^\| ingest \| accepted ev\/s \| 600 ev\/s \| 1,000 ev\/s \| 0\.60 \| ≥ 0\.5 \| yes \|$/,
    );
    assert.equal(
      lines[3],
      '| latency | failed: after 120 s the receivers were at 10999 of 11000 events | | | | | **failed** |',
    );
  });
});
