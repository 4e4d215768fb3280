// Where an event's whereabouts are written, all of it: what the broadcaster had storage keep
// for which endpoints (accepted), and what became of it at each endpoint (delivered, dead
// letter, dropped), both into the EventTrail that GET /api/v1/events/{id} reads first.
import type { Clock } from '../core/clock.ts';
import type { EndpointListener } from '../endpoint/listener.ts';
import type { EventTrail } from '../history/events.ts';
import type { EndpointStats } from '../metrics/endpoint-stats.ts';
import type { OnStored } from './broadcaster.ts';

/** What the broadcaster tells once storage kept a request's events. */
export function accepting(trail: EventTrail): OnStored {
  return (events, targets, routes) => {
    trail.accepted(events, targets, routes);
  };
}

/** The endpoint's figures, and its events' whereabouts marked as they change. */
export function marking(
  stats: EndpointStats,
  trail: EventTrail,
  name: string,
  clock: Clock,
): EndpointListener {
  return {
    restorePending: (count) => {
      stats.restorePending(count);
    },
    onFiltered: () => {
      stats.onFiltered();
    },
    onQueued: () => {
      stats.onQueued();
    },
    onDropped: (event) => {
      stats.onDropped();
      trail.dropped(name, event, clock.now());
    },
    onDeliveryStarted: (events) => {
      stats.onDeliveryStarted(events);
    },
    onAttempt: (outcome) => {
      stats.onAttempt(outcome);
    },
    onSkipped: (event, why) => {
      stats.onSkipped(event, why);
      trail.skipped(name, event, clock.now(), why);
    },
    onDelivered: (event) => {
      stats.onDelivered(event);
      trail.delivered(name, event, clock.now());
    },
    onDeadLettered: (event, reason) => {
      stats.onDeadLettered();
      trail.deadLettered(name, event, clock.now(), reason);
    },
  };
}
