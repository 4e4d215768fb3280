// The event whereabouts keep the newest `keep` events: the oldest accepted goes first, a
// re-acceptance keeps the first record and does not count twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent } from '../../../src/core/event.ts';
import { EventTrail } from '../../../src/history/events.ts';

const event = (id: string, acceptedAt: number): NewEvent => ({
  id,
  envelope: `{"events":[{"id":"${id}"}]}`,
  acceptedAt,
  action: 'push',
  mediaType: undefined,
});

describe('event whereabouts', () => {
  it('keep the newest events, dropping the oldest accepted first', () => {
    const trail = new EventTrail(2);
    const routes = ['a', 'b'];
    trail.accepted([event('e1', 1), event('e2', 2)], [['a'], ['a', 'b']], routes);
    // A re-acceptance of e1 keeps its first record and is not a new arrival.
    trail.accepted([event('e1', 9)], [['b']], routes);
    assert.equal(trail.get('e1')?.acceptedAt, 1);
    trail.accepted([event('e3', 3)], [['a']], routes);
    assert.equal(trail.get('e1'), undefined);
    assert.equal(trail.get('e2')?.acceptedAt, 2);
    assert.equal(trail.get('e3')?.acceptedAt, 3);
    trail.accepted([event('e4', 4), event('e5', 5)], [['a'], ['a']], routes);
    assert.deepEqual(
      ['e2', 'e3', 'e4', 'e5'].map((id) => trail.get(id) !== undefined),
      [false, false, true, true],
    );
  });

  it('say where a kept event is for each endpoint', () => {
    const trail = new EventTrail(10);
    const e = event('e1', 1);
    trail.accepted([e], [['a']], ['a', 'b']);
    trail.delivered('a', e, 5);
    assert.deepEqual(trail.get('e1')?.endpoints, {
      a: { state: 'delivered', at: 5 },
      b: { state: 'filtered-out' },
    });
  });
});
