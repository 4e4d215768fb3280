import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Ring } from '../../../src/core/ring.ts';

type Op = { push: number } | { unshift: number[] } | { shift: true };

const op = fc.oneof(
  fc.record({ push: fc.integer() }),
  fc.record({ unshift: fc.array(fc.integer(), { maxLength: 5 }) }),
  fc.record({ shift: fc.constant(true as const) }),
);

/** Runs `ops` on a ring and on a plain array, and compares them after every step. */
function matchesArray(ring: Ring<number>, ops: readonly Op[]): void {
  const model: number[] = [];
  for (const o of ops) {
    if ('push' in o) {
      ring.push(o.push);
      model.push(o.push);
    } else if ('unshift' in o) {
      ring.unshift(o.unshift);
      model.unshift(...o.unshift);
    } else {
      assert.equal(ring.shift(), model.shift());
    }
    assert.equal(ring.length, model.length);
    assert.equal(ring.peek(), model[0]);
  }
  const rest: (number | undefined)[] = [];
  while (ring.length > 0) rest.push(ring.shift());
  assert.deepEqual(rest, model);
  assert.equal(ring.shift(), undefined);
}

describe('Ring (the FIFO under backlogs and re-send detection)', () => {
  it('behaves as an array queue under any pushes, put-backs and shifts', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        matchesArray(new Ring<number>(), ops);
        matchesArray(Ring.ofNumbers(), ops);
      }),
    );
  });

  it('grows past its first size and shrinks again as it drains, keeping order', () => {
    const ring = Ring.ofNumbers();
    const n = 100_000;
    for (let i = 0; i < n; i++) ring.push(i + 0.5);
    ring.unshift([-2, -1]);
    assert.equal(ring.length, n + 2);
    assert.equal(ring.shift(), -2);
    assert.equal(ring.shift(), -1);
    for (let i = 0; i < n - 10; i++) assert.equal(ring.shift(), i + 0.5);
    for (let i = 1; i <= 5; i++) ring.push(-i);
    const rest: (number | undefined)[] = [];
    while (ring.length > 0) rest.push(ring.shift());
    assert.deepEqual(rest, [
      ...Array.from({ length: 10 }, (_, i) => n - 10 + i + 0.5),
      -1,
      -2,
      -3,
      -4,
      -5,
    ]);
  });
});
