// An endpoint's figures: the registry's Events/Successes/Failures/Errors and Statuses,
// pending, latency, and the last minute per second, on a fake clock, in /metrics as well.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointStats, MinuteCounts } from '../../../src/metrics/endpoint-stats.ts';
import { createMetrics } from '../../../src/metrics/registry.ts';
import type { RelayEvent } from '../../../src/core/event.ts';
import { FakeClock } from '../../support/helpers.ts';

const event = (acceptedAt: number): RelayEvent => ({
  id: 'e',
  envelope: '{}',
  acceptedAt,
  attempts: 0,
});

describe('endpoint figures', () => {
  it('count what the pipeline reports, and show it on /metrics', async () => {
    const clock = new FakeClock();
    const metrics = createMetrics();
    const stats = new EndpointStats('ci', metrics, clock);
    const accepted = clock.now();
    stats.restorePending(2);
    stats.onQueued();
    stats.onQueued();
    stats.onAttempt({ kind: 'failure', status: 503, durationMs: 5, message: 'answered 503' });
    stats.onAttempt({ kind: 'error', code: 'ECONNREFUSED', durationMs: 1, message: 'refused' });
    await clock.advance(1500);
    stats.onAttempt({ kind: 'success', status: 202, durationMs: 3 });
    stats.onDelivered(event(accepted));
    stats.onDropped();
    stats.onDeadLettered();
    assert.deepEqual(
      [stats.events, stats.pending, stats.successes, stats.failures, stats.errors],
      [2, 1, 1, 1, 1],
    );
    assert.deepEqual([stats.dropped, stats.deadLettered], [1, 1]);
    assert.deepEqual(Object.fromEntries(stats.statuses), {
      '503 Service Unavailable': 1,
      '202 Accepted': 1,
    });
    assert.deepEqual(stats.latency, { count: 1, sumMs: 1500, maxMs: 1500 });
    assert.equal(stats.lastSuccess?.status, 202);
    assert.equal(stats.lastFailure?.code, 'ECONNREFUSED');
    assert.equal(stats.deliveredPerSecond.total(clock.now()), 1);
    assert.equal(stats.failedPerSecond.total(clock.now()), 2);
    const text = await metrics.register.metrics();
    assert.match(text, /registry_notifications_events_total\{type="Events",endpoint="ci"\} 2/);
    assert.match(text, /registry_notifications_pending_total\{endpoint="ci"\} 1/);
    assert.match(
      text,
      /registry_notifications_status_total\{code="503 Service Unavailable",endpoint="ci"\} 1/,
    );
    stats.forget();
    assert.doesNotMatch(await metrics.register.metrics(), /endpoint="ci"/);
  });

  it('the last minute: one count per second, older seconds fall out', () => {
    const counts = new MinuteCounts();
    const t0 = Date.parse('2026-12-01T09:00:00Z');
    counts.add(t0, 2);
    counts.add(t0 + 999);
    counts.add(t0 + 30_000);
    const series = counts.series(t0 + 30_000);
    assert.equal(series.length, 60);
    assert.equal(series[59], 1);
    assert.equal(series[29], 3);
    assert.equal(counts.total(t0 + 30_000), 4);
    assert.equal(counts.total(t0 + 60_000), 1, 'the first second is past the minute');
    assert.equal(counts.total(t0 + 200_000), 0);
  });
});
