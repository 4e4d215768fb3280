// Accepted and delivered events/s for a 10 s load of 1-event envelopes (autocannon, 50
// keep-alive connections, a unique event id per request) into a relay child process with
// one fast local receiver. Delivered/s counts until the receiver has every accepted event.
import autocannon from 'autocannon';
import { benchEvent, startBenchReceiver, startRelayProcess } from './lib.ts';

export interface LoadResult {
  seconds: number;
  connections: number;
  accepted: number;
  non2xx: number;
  acceptedPerSec: number;
  delivered: number;
  dropped: number;
  deliveredPerSec: number;
  deliveredInWindowPerSec: number;
  drainSeconds: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export async function runLoad(
  seconds = 10,
  connections = 50,
  /** Requests per second across all connections; undefined = as fast as the relay answers. */
  overallRate?: number,
): Promise<LoadResult> {
  const receiver = await startBenchReceiver();
  const relay = await startRelayProcess({
    notifications: { endpoints: [{ name: 'rx', url: receiver.url }] },
  });
  try {
    // One template, a fresh id spliced in per request: the relay drops re-sent ids.
    const [head, tail] = JSON.stringify({ events: [benchEvent('@ID@')] }).split('@ID@');
    let n = 0;
    const started = performance.now();
    const result = await autocannon({
      url: `${relay.ingestUrl}/events`,
      connections,
      duration: seconds,
      ...(overallRate === undefined ? {} : { overallRate }),
      requests: [
        {
          method: 'POST',
          path: '/events',
          headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
          setupRequest: (req) => ({
            ...req,
            body: `${String(head)}load-${String(++n)}${String(tail)}`,
          }),
        },
      ],
    });
    const inWindow = (await receiver.count()).events;
    // Delivered once the relay has nothing pending: every accepted event was either
    // delivered or dropped by a full queue (counted in /debug/vars).
    let figures: { pending: number; dropped: number; accepted: number };
    for (;;) {
      figures = await relayFigures(relay.debugUrl);
      if (figures.pending === 0) break;
      if (performance.now() - started > (seconds + 300) * 1000) {
        throw new Error(`still ${String(figures.pending)} events pending after 5 minutes`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const drainSeconds = (performance.now() - started) / 1000;
    const delivered = (await receiver.count()).events;
    // The relay's own count: autocannon does not count answers in flight when it stops.
    const accepted = figures.accepted;
    return {
      seconds,
      connections,
      accepted,
      non2xx: result.non2xx + result.errors + result.timeouts,
      acceptedPerSec: accepted / seconds,
      delivered,
      dropped: figures.dropped,
      deliveredPerSec: delivered / drainSeconds,
      deliveredInWindowPerSec: inWindow / seconds,
      drainSeconds,
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
    };
  } finally {
    await relay.stop();
    receiver.stop();
  }
}

async function relayFigures(
  debugUrl: string,
): Promise<{ pending: number; dropped: number; accepted: number }> {
  const vars = (await (await fetch(`${debugUrl}/debug/vars`)).json()) as {
    registry: { notifications: { endpoints: { Metrics: { Pending: number } }[] } };
    relay: { endpoints: { Dropped: number }[]; ingest: { events: number } };
  };
  return {
    accepted: vars.relay.ingest.events,
    pending: vars.registry.notifications.endpoints.reduce((n, e) => n + e.Metrics.Pending, 0),
    dropped: vars.relay.endpoints.reduce((n, e) => n + e.Dropped, 0),
  };
}
