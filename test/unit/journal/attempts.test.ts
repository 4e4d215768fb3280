// The durable attempts log's bound per endpoint holds at every moment: after each commit,
// between two prunes, and after the flush at shutdown, however many attempts came in.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AttemptLog, type RawAttempt } from '../../../src/history/attempts.ts';
import { JournalAttempts } from '../../../src/journal/attempts.ts';
import { Journal } from '../../../src/journal/journal.ts';

function raw(i: number): RawAttempt {
  return {
    at: Date.parse('2026-12-01T10:00:00Z') + i,
    durationMs: 1,
    deliveryId: `d-${String(i)}`,
    events: [{ id: `e-${String(i)}` }],
    headers: ['content-type', 'application/json'],
    body: '{}',
    answer: { status: 202, headers: {}, bodySize: 0, body: '' },
  };
}

function rows(journal: Journal, endpoint: string): number {
  return journal.listAttempts(endpoint, { limit: 1_000_000 }).length;
}

describe('durable attempts bound', () => {
  it('the journal holds at most `keep` attempts per endpoint after every commit', () => {
    const journal = new Journal(mkdtempSync(join(tmpdir(), 'relay-attempts-')), {
      sync: 'normal',
      maxSize: 0,
    });
    const store = new JournalAttempts(journal, 5, 7 * 86_400_000);
    const log = new AttemptLog({ keep: 100, store: 5, durable: store, relay: 'test' });
    const busy = log.recorder('busy', 'http://127.0.0.1:1/busy');
    const quiet = log.recorder('quiet', 'http://127.0.0.1:1/quiet');
    for (let tick = 0; tick < 4; tick++) {
      for (let i = 0; i < 50; i++) busy(raw(tick * 100 + i));
      quiet(raw(tick));
      // A housekeeping tick without the age prune due: the bound still holds.
      log.flush();
      journal.flush();
      assert.equal(rows(journal, 'busy'), 5, `after tick ${String(tick)}`);
      assert.equal(rows(journal, 'quiet'), Math.min(5, tick + 1));
    }
    // Shutdown: what memory still holds is flushed, and cut in the same commit.
    for (let i = 0; i < 30; i++) busy(raw(1000 + i));
    log.flush();
    journal.close();
    const reopened = new Journal(journal.path.replace(/\/[^/]+$/, ''), {
      sync: 'normal',
      maxSize: 0,
    });
    assert.equal(rows(reopened, 'busy'), 5);
    assert.deepEqual(
      reopened
        .listAttempts('busy', { limit: 10 })
        .map((r) => (JSON.parse(r.record) as { deliveryId: string }).deliveryId),
      ['d-1029', 'd-1028', 'd-1027', 'd-1026', 'd-1025'],
    );
    reopened.close();
  });
});
