// The endpoint set: a config applied by name (added, changed with the keys that changed,
// removed), routes that change with it at once, and pauses that outlive a rebuild.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { readEnvelope } from '../../../src/core/event.ts';
import { createMetrics } from '../../../src/metrics/registry.ts';
import { Broadcaster } from '../../../src/relay/broadcaster.ts';
import { changedKeys, EndpointSet } from '../../../src/relay/endpoint-set.ts';
import { MemoryStorage } from '../../../src/storage/memory.ts';
import { FakeClock, makeConfig, memoryLogger, pushEvent } from '../../support/helpers.ts';

const endpoints = (list: Record<string, unknown>[]) => makeConfig(list).notifications.endpoints;
const sets: EndpointSet[] = [];
after(() => {
  for (const s of sets) s.destroy();
});

function endpointSet() {
  const storage = new MemoryStorage();
  const set = new EndpointSet({
    clock: new FakeClock(),
    log: memoryLogger().log,
    metrics: createMetrics(),
    env: {},
    storage,
    handoverMs: () => 0,
  });
  sets.push(set);
  return { set, storage };
}

describe('endpoint set', () => {
  it('applies a config by name: added, changed (with its keys), removed, unchanged', () => {
    const { set } = endpointSet();
    const first = set.apply(
      endpoints([
        { name: 'a', url: 'http://127.0.0.1:9/a' },
        { name: 'b', url: 'http://127.0.0.1:9/b' },
      ]),
    );
    assert.deepEqual(first, { added: ['a', 'b'], changed: [], removed: [] });
    const a = set.get('a');
    const second = set.apply(
      endpoints([
        { name: 'a', url: 'http://127.0.0.1:9/a' },
        { name: 'b', url: 'http://127.0.0.1:9/b2', timeout: '3s' },
        { name: 'c', url: 'http://127.0.0.1:9/c' },
      ]),
    );
    assert.deepEqual(second.added, ['c']);
    // Keys as the compiled config names them (durations in ns), as the reload log says them.
    assert.deepEqual(second.changed, [{ name: 'b', keys: ['timeoutNs', 'url'] }]);
    assert.deepEqual(second.removed, []);
    assert.equal(set.get('a'), a, 'an unchanged endpoint keeps running untouched');
    const third = set.apply(endpoints([{ name: 'c', url: 'http://127.0.0.1:9/c' }]));
    assert.deepEqual([...third.removed].sort(), ['a', 'b']);
    assert.deepEqual(
      set.list.map((e) => e.config.name),
      ['c'],
    );
  });

  it('routes change with apply, so the next event goes by the new config', async () => {
    const { set, storage } = endpointSet();
    set.apply(
      endpoints([{ name: 'a', url: 'http://127.0.0.1:9/a', ignore: { actions: ['push'] } }]),
    );
    const broadcaster = new Broadcaster(() => set.routes, storage);
    await broadcaster.write(readEnvelope({ events: [pushEvent()] }, 0));
    assert.equal(set.get('a')?.stats.events, 0, 'the filter ignored the push');
    assert.equal(set.get('a')?.stats.filtered, 1, 'and the filter stage counted it');
    set.apply(endpoints([{ name: 'a', url: 'http://127.0.0.1:9/a' }]));
    await broadcaster.write(readEnvelope({ events: [pushEvent()] }, 0));
    assert.equal(set.get('a')?.stats.events, 1);
  });

  it('a pause holds across a rebuild of the endpoint; removing the endpoint ends it', async () => {
    const { set } = endpointSet();
    set.apply(endpoints([{ name: 'a', url: 'http://127.0.0.1:9/a' }]));
    assert.equal(await set.pause('a'), true);
    assert.equal(await set.pause('a'), false, 'already paused');
    set.apply(endpoints([{ name: 'a', url: 'http://127.0.0.1:9/other' }]));
    assert.equal(set.isPaused('a'), true);
    assert.equal(await set.resume('a'), true);
    assert.equal(await set.resume('a'), false, 'not paused');
    assert.equal(await set.pause('a'), true);
    set.apply([]);
    assert.equal(set.isPaused('a'), false);
  });

  it('changedKeys names every key that differs, nested ones by their path', () => {
    const [before, after_] = [
      endpoints([{ name: 'a', url: 'http://127.0.0.1:9/a', headers: { X: ['1'] } }])[0],
      endpoints([
        { name: 'a', url: 'http://127.0.0.1:9/a', headers: { X: ['2'] }, threshold: 3 },
      ])[0],
    ];
    assert.ok(before && after_);
    assert.deepEqual(changedKeys(before, after_), ['headers', 'threshold']);
  });
});
