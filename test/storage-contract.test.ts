// One contract, every storage backend: what the delivery loop and ingest rely on, run
// against memory and the SQLite journal alike. A new backend joins the list below.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NewEvent, RelayEvent } from '../src/event.ts';
import { Journal } from '../src/journal/journal.ts';
import { JournalStorage } from '../src/journal/storage.ts';
import { MemoryStorage } from '../src/storage/memory.ts';
import {
  StorageUnavailableError,
  type BacklogObserver,
  type Storage,
} from '../src/storage/storage.ts';
import { memoryLogger } from './helpers.ts';

interface Backend {
  readonly name: string;
  /** A fresh storage; `reopen` gives a storage over the same data (durable backends). */
  open(): { storage: Storage; reopen: () => Storage };
}

const journalStorage = (dir: string): JournalStorage =>
  new JournalStorage(new Journal(dir, { sync: 'normal', maxSize: 2 ** 30 }), 4);

const BACKENDS: Backend[] = [
  {
    name: 'memory',
    open: () => ({ storage: new MemoryStorage(), reopen: () => new MemoryStorage() }),
  },
  {
    name: 'journal (SQLite)',
    open() {
      const dir = mkdtempSync(join(tmpdir(), 'relay-contract-'));
      return { storage: journalStorage(dir), reopen: () => journalStorage(dir) };
    },
  },
];

let n = 0;
const event = (): NewEvent => {
  n += 1;
  return {
    id: `c${String(n)}`,
    action: 'push',
    mediaType: undefined,
    envelope: JSON.stringify({ events: [{ id: `c${String(n)}` }] }),
    acceptedAt: Date.now(),
  };
};

function observer() {
  const seen = { queued: 0, dropped: 0, restored: 0 };
  const o: BacklogObserver = {
    onQueued: () => (seen.queued += 1),
    onDropped: () => (seen.dropped += 1),
    restorePending: (count) => (seen.restored += count),
  };
  return { o, seen };
}

const options = (o: BacklogObserver, maxPending = 1000) => ({
  observer: o,
  log: memoryLogger().log,
  maxPending,
});
const ids = (events: readonly RelayEvent[]): string[] => events.map((e) => e.id);

for (const backend of BACKENDS) {
  describe(`storage contract: ${backend.name}`, () => {
    it('hands appended events to the backlogs of their targets only, oldest first', async () => {
      const { storage } = backend.open();
      const a = storage.backlog('a', options(observer().o));
      const b = storage.backlog('b', options(observer().o));
      let woken = 0;
      a.onAvailable = () => (woken += 1);
      const events = [event(), event(), event()];
      await storage.append(events, [['a', 'b'], ['b'], ['a']]);
      assert.ok(woken >= 1, 'a was told events are available');
      assert.deepEqual([a.pending, a.waiting, b.pending], [2, 2, 2]);
      assert.deepEqual(ids(a.lease(10)), [events[0]?.id, events[2]?.id]);
      assert.deepEqual(ids(b.lease(1)), [events[0]?.id]);
      assert.deepEqual(ids(b.lease(5)), [events[1]?.id]);
      assert.deepEqual(b.lease(5), [], 'nothing left to lease');
      storage.close();
    });

    it('keeps leased events pending until ack, retryLater or deadLetter', async () => {
      const { storage } = backend.open();
      const seen = observer();
      const a = storage.backlog('a', options(seen.o));
      const events = [event(), event(), event(), event()];
      await storage.append(
        events,
        events.map(() => ['a']),
      );
      assert.equal(seen.seen.queued, 4);
      const first = a.lease(2);
      assert.deepEqual([a.pending, a.waiting], [4, 2]);
      a.ack(first.slice(0, 1));
      assert.deepEqual([a.pending, a.waiting], [3, 2]);
      a.retryLater(first.slice(1));
      assert.deepEqual([a.pending, a.waiting], [3, 3]);
      assert.equal(a.peek()?.id, events[1]?.id, 'a retried event is first again');
      const again = a.lease(3);
      assert.deepEqual(ids(again), ids(events.slice(1)));
      a.deadLetter(again.slice(0, 1), { attempts: 3, error: 'answered 500', message: 'gave up' });
      a.ack(again.slice(1));
      assert.deepEqual([a.pending, a.waiting], [0, 0]);
      storage.close();
    });

    it('puts several events retried later back first, in their order', async () => {
      const { storage } = backend.open();
      const a = storage.backlog('a', options(observer().o));
      const events = [event(), event(), event(), event()];
      await storage.append(
        events,
        events.map(() => ['a']),
      );
      a.retryLater(a.lease(3));
      assert.deepEqual(ids(a.lease(4)), ids(events));
      storage.close();
    });

    it('returns the same backlog for the same endpoint, so a rebuilt pipeline continues it', async () => {
      const { storage } = backend.open();
      const first = storage.backlog('a', options(observer().o));
      await storage.append([event()], [['a']]);
      const second = storage.backlog('a', options(observer().o));
      assert.equal(second, first);
      assert.equal(second.pending, 1);
      storage.close();
    });

    it('refuses appends once closed, keeping nothing of them', async () => {
      const { storage, reopen } = backend.open();
      storage.backlog('a', options(observer().o));
      storage.close();
      await assert.rejects(storage.append([event()], [['a']]), StorageUnavailableError);
      const again = reopen();
      assert.equal(again.backlog('a', options(observer().o)).pending, 0);
      again.close();
    });

    it(
      backend.name === 'memory'
        ? 'is not durable: a new storage starts empty'
        : 'is durable: a reopened storage has every unacknowledged event, in order',
      async () => {
        const { storage, reopen } = backend.open();
        const a = storage.backlog('a', options(observer().o));
        const events = Array.from({ length: 10 }, event);
        await storage.append(
          events,
          events.map(() => ['a']),
        );
        a.ack(a.lease(3));
        storage.close();
        const again = reopen();
        const seen = observer();
        const restored = again.backlog('a', options(seen.o));
        if (!storage.durable) {
          assert.equal(restored.pending, 0);
        } else {
          assert.equal(restored.pending, 7);
          assert.equal(seen.seen.restored, 7);
          // The window is 4 here: the rest is read from disk as it drains.
          const out: RelayEvent[] = [];
          for (let got = restored.lease(3); got.length > 0; got = restored.lease(3)) {
            out.push(...got);
            restored.ack(got);
          }
          assert.deepEqual(ids(out), ids(events.slice(3)));
        }
        again.close();
      },
    );

    it('counts pending events per endpoint, configured or not', async () => {
      const { storage } = backend.open();
      storage.backlog('a', options(observer().o));
      storage.backlog('b', options(observer().o));
      await storage.append([event(), event()], [['a', 'b'], ['a']]);
      const counts = storage.pendingCounts();
      assert.equal(counts.get('a'), 2);
      assert.equal(counts.get('b'), 1);
      storage.close();
    });
  });
}

describe('storage: memory bound', () => {
  it('drops the oldest waiting event past maxPending, and says so', async () => {
    const storage = new MemoryStorage();
    const seen = observer();
    const a = storage.backlog('a', options(seen.o, 2));
    const events = [event(), event(), event()];
    await storage.append(
      events,
      events.map(() => ['a']),
    );
    assert.equal(seen.seen.dropped, 1);
    assert.deepEqual(ids(a.lease(5)), ids(events.slice(1)));
  });
});
