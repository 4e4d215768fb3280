// One contract, every storage backend: what the delivery loop and ingest rely on, run
// against memory, the SQLite journal and NATS JetStream (a real nats-server) alike. A new
// backend joins the list below.
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NewEvent, RelayEvent } from '../../src/core/event.ts';
import { Journal } from '../../src/journal/journal.ts';
import { JournalStorage } from '../../src/journal/storage.ts';
import { NatsStorage } from '../../src/nats/storage.ts';
import { MemoryStorage } from '../../src/storage/memory.ts';
import {
  defersRetries,
  findsPending,
  keepsAttempts,
  keepsDeadLetters,
  keepsPauses,
  knowsInstances,
  noticesOtherWriters,
  sharesPauses,
  type Backlog,
  type BacklogObserver,
  type Storage,
} from '../../src/storage/storage.ts';
import { memoryLogger, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats, type NatsCluster } from '../support/nats-process.ts';
import { StorageUnavailableError } from '../../src/core/errors.ts';

interface Backend {
  readonly name: string;
  /** Why the suite cannot run here (a peer not installed), or false. */
  readonly skip?: string | false;
  /** The capabilities it declares beyond the contract (see storage.ts). */
  readonly capabilities: readonly string[];
  /** A fresh storage; `reopen` gives a storage over the same data (durable backends). */
  open(): Promise<{ storage: Storage; reopen: () => Promise<Storage> }>;
}

const journalStorage = (dir: string): JournalStorage =>
  new JournalStorage(new Journal(dir, { sync: 'normal', maxSize: 2 ** 30 }), 4);

let nats: NatsCluster | undefined;
if (natsSkip === false) {
  before(async () => {
    nats = await startNats(requireNats());
  });
  after(async () => {
    await nats?.stop();
  });
}
let streams = 0;
const natsStorage = (stream: string): Promise<NatsStorage> =>
  NatsStorage.open(
    {
      servers: nats?.urls ?? [],
      stream,
      replicas: 1,
      maxAgeMs: 3_600_000,
      maxBytes: 0,
      duplicateWindowMs: 60_000,
      ackWaitMs: 30_000,
      name: 'contract',
      clock: systemClock,
    },
    memoryLogger().log,
  );

const BACKENDS: Backend[] = [
  {
    name: 'memory',
    capabilities: [],
    open: () =>
      Promise.resolve({
        storage: new MemoryStorage(),
        reopen: () => Promise.resolve(new MemoryStorage()),
      }),
  },
  {
    name: 'journal (SQLite)',
    capabilities: [
      'keepsPauses',
      'keepsDeadLetters',
      'keepsAttempts',
      'findsPending',
      'noticesOtherWriters',
    ],
    open() {
      const dir = mkdtempSync(join(tmpdir(), 'relay-contract-'));
      return Promise.resolve({
        storage: journalStorage(dir),
        reopen: () => Promise.resolve(journalStorage(dir)),
      });
    },
  },
  {
    name: 'NATS JetStream',
    capabilities: [
      'keepsPauses',
      'sharesPauses',
      'knowsInstances',
      'keepsDeadLetters',
      'keepsAttempts',
      'defersRetries',
    ],
    skip: natsSkip,
    async open() {
      streams += 1;
      const stream = `contract-${String(streams)}`;
      return { storage: await natsStorage(stream), reopen: () => natsStorage(stream) };
    },
  },
];

/**
 * Waits until `backlog` has `n` events waiting. Memory and the journal hand events out as
 * soon as append resolved; a networked backend receives them from its server a moment later.
 */
const available = (backlog: Backlog, n: number): Promise<void> =>
  waitUntil(() => backlog.waiting >= n, 5_000, `${String(n)} events available`);

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
  maxInFlight: 1000,
});
const ids = (events: readonly RelayEvent[]): string[] => events.map((e) => e.id);

for (const backend of BACKENDS) {
  describe(`storage contract: ${backend.name}`, { skip: backend.skip ?? false }, () => {
    it('declares exactly its capabilities, each asked for by type', async () => {
      const { storage } = await backend.open();
      const guards = {
        keepsPauses,
        sharesPauses,
        knowsInstances,
        keepsDeadLetters,
        keepsAttempts,
        findsPending,
        noticesOtherWriters,
        defersRetries: (s: Storage) => defersRetries(s.backlog('cap', options(observer().o))),
      };
      const declared = Object.entries(guards)
        .filter(([, guard]) => guard(storage))
        .map(([name]) => name);
      assert.deepEqual(declared.sort(), [...backend.capabilities].sort());
      assert.equal(typeof storage.ready(), 'boolean');
      await storage.close();
    });

    it('hands appended events to the backlogs of their targets only, oldest first', async () => {
      const { storage } = await backend.open();
      const a = storage.backlog('a', options(observer().o));
      const b = storage.backlog('b', options(observer().o));
      let woken = 0;
      a.onAvailable = () => (woken += 1);
      const events = [event(), event(), event()];
      await storage.append(events, [['a', 'b'], ['b'], ['a']]);
      await available(a, 2);
      await available(b, 2);
      assert.ok(woken >= 1, 'a was told events are available');
      assert.deepEqual([a.pending, a.waiting, b.pending], [2, 2, 2]);
      assert.deepEqual(ids(a.lease(10)), [events[0]?.id, events[2]?.id]);
      assert.deepEqual(ids(b.lease(1)), [events[0]?.id]);
      assert.deepEqual(ids(b.lease(5)), [events[1]?.id]);
      assert.deepEqual(b.lease(5), [], 'nothing left to lease');
      await storage.close();
    });

    it('keeps leased events pending until ack, retryLater or deadLetter', async () => {
      const { storage } = await backend.open();
      const seen = observer();
      const a = storage.backlog('a', options(seen.o));
      const events = [event(), event(), event(), event()];
      await storage.append(
        events,
        events.map(() => ['a']),
      );
      assert.equal(seen.seen.queued, 4);
      await available(a, 4);
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
      await storage.close();
    });

    it('puts several events retried later back first, in their order', async () => {
      const { storage } = await backend.open();
      const a = storage.backlog('a', options(observer().o));
      const events = [event(), event(), event(), event()];
      await storage.append(
        events,
        events.map(() => ['a']),
      );
      await available(a, 4);
      a.retryLater(a.lease(3));
      assert.deepEqual(ids(a.lease(4)), ids(events));
      await storage.close();
    });

    it('keeps each event’s trace with it, also among events without one and when retried', async () => {
      const { storage } = await backend.open();
      const a = storage.backlog('a', options(observer().o));
      const traced = (trace: string): NewEvent => ({ ...event(), trace });
      const events = [
        event(),
        traced('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
        traced('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\nvendor=opaque,other=1'),
        event(),
      ];
      await storage.append(
        events,
        events.map(() => ['a']),
      );
      await available(a, 4);
      const first = a.lease(3);
      assert.deepEqual(
        first.map((e) => e.trace),
        events.slice(0, 3).map((e) => e.trace),
      );
      a.retryLater(first.slice(1));
      assert.deepEqual(
        a.lease(3).map((e) => e.trace),
        events.slice(1).map((e) => e.trace),
        'in the order they were retried, each with its own trace',
      );
      await storage.close();
    });

    it('returns the same backlog for the same endpoint, so a rebuilt pipeline continues it', async () => {
      const { storage } = await backend.open();
      const first = storage.backlog('a', options(observer().o));
      await storage.append([event()], [['a']]);
      await available(first, 1);
      const second = storage.backlog('a', options(observer().o));
      assert.equal(second, first);
      assert.equal(second.pending, 1);
      await storage.close();
    });

    it('refuses appends once closed, keeping nothing of them', async () => {
      const { storage, reopen } = await backend.open();
      storage.backlog('a', options(observer().o));
      await storage.close();
      await assert.rejects(storage.append([event()], [['a']]), StorageUnavailableError);
      const again = await reopen();
      const a = again.backlog('a', options(observer().o));
      // A networked backend would have handed a kept event out by now.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(a.pending, 0);
      await again.close();
    });

    it(
      backend.name === 'memory'
        ? 'is not durable: a new storage starts empty'
        : 'is durable: a reopened storage has every unacknowledged event, in order',
      async () => {
        const { storage, reopen } = await backend.open();
        const a = storage.backlog('a', options(observer().o));
        const events = Array.from({ length: 10 }, event);
        await storage.append(
          events,
          events.map(() => ['a']),
        );
        await available(a, 10);
        a.ack(a.lease(3));
        await storage.close();
        const again = await reopen();
        const seen = observer();
        const restored = again.backlog('a', options(seen.o));
        if (!storage.durable) {
          assert.equal(restored.pending, 0);
        } else {
          await available(restored, Math.min(7, 4));
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
        await again.close();
      },
    );

    it('counts pending events per endpoint, configured or not', async () => {
      const { storage } = await backend.open();
      const a = storage.backlog('a', options(observer().o));
      const b = storage.backlog('b', options(observer().o));
      await storage.append([event(), event()], [['a', 'b'], ['a']]);
      await available(a, 2);
      await available(b, 1);
      const counts = storage.pendingCounts();
      assert.equal(counts.get('a'), 2);
      assert.equal(counts.get('b'), 1);
      await storage.close();
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
