// The broadcaster: each event kept for exactly the endpoints whose filters accept it, the
// whereabouts told only once storage kept them, and nothing told of a refused write.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageUnavailableError } from '../../../src/core/errors.ts';
import { readEnvelope, type EventFacts } from '../../../src/core/event.ts';
import type { Route } from '../../../src/endpoint/filter.ts';
import { Broadcaster } from '../../../src/relay/broadcaster.ts';
import { MemoryStorage } from '../../../src/storage/memory.ts';
import { memoryLogger, pushEvent } from '../../support/helpers.ts';

const route = (name: string, accepts: (f: EventFacts) => boolean): Route => ({ name, accepts });
const backlogOptions = {
  observer: {
    onQueued: () => undefined,
    onDropped: () => undefined,
    restorePending: () => undefined,
  },
  log: memoryLogger().log,
  maxPending: 100,
};

describe('broadcaster', () => {
  it('keeps each event for the endpoints whose filters accept it, then says where it went', async () => {
    const storage = new MemoryStorage();
    const all = storage.backlog('all', backlogOptions);
    const pushes = storage.backlog('pushes', backlogOptions);
    const told: { targets: readonly (readonly string[])[]; routes: readonly string[] }[] = [];
    const broadcaster = new Broadcaster(
      () => [route('all', () => true), route('pushes', (f) => f.action === 'push')],
      storage,
      (_events, targets, routes) => told.push({ targets, routes }),
    );
    const accepted = readEnvelope(
      { events: [pushEvent(), pushEvent({ action: 'pull' }), pushEvent()] },
      Date.parse('2026-12-01T09:00:00Z'),
    );
    await broadcaster.write(accepted);
    assert.equal(all.pending, 3);
    assert.equal(pushes.pending, 2);
    assert.deepEqual(told, [
      { targets: [['all', 'pushes'], ['all'], ['all', 'pushes']], routes: ['all', 'pushes'] },
    ]);
  });

  it('uses the routes in force at each write (a reload between two requests)', async () => {
    const storage = new MemoryStorage();
    const a = storage.backlog('a', backlogOptions);
    const b = storage.backlog('b', backlogOptions);
    let routes = [route('a', () => true)];
    const broadcaster = new Broadcaster(() => routes, storage);
    await broadcaster.write(readEnvelope({ events: [pushEvent()] }, 0));
    routes = [route('b', () => true)];
    await broadcaster.write(readEnvelope({ events: [pushEvent()] }, 0));
    assert.deepEqual([a.pending, b.pending], [1, 1]);
  });

  it('a refused write rejects with the storage error and tells nothing', async () => {
    const storage = new MemoryStorage();
    storage.append = () =>
      Promise.reject(new StorageUnavailableError('RELAY_STORAGE_FULL', 'journal full'));
    let told = 0;
    const broadcaster = new Broadcaster(
      () => [route('a', () => true)],
      storage,
      () => (told += 1),
    );
    await assert.rejects(
      broadcaster.write(readEnvelope({ events: [pushEvent()] }, 0)),
      (err: unknown) => err instanceof StorageUnavailableError && err.code === 'RELAY_STORAGE_FULL',
    );
    assert.equal(told, 0);
  });
});
