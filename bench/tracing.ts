// Scenario "tracing": what OpenTelemetry tracing costs. Ingest (as in "ingest": accepted
// events/s, 50 connections, 1-event envelopes) and fan-out (as in "fanout": 10 receivers)
// with tracing on, every span exported to an OTLP/HTTP receiver (a bench receiver that
// answers 200), against the same with tracing off, alternating, best of 2 each.
import { bestOf, rate, relayRun as fanoutRun, slowest } from './fanout.ts';
import { relayRun as ingestRun } from './ingest.ts';
import { startBenchReceivers } from './lib.ts';
import type { Row } from './result.ts';

const SECONDS = 8;

export async function tracingScenario(): Promise<Row[]> {
  const collector = await startBenchReceivers(1);
  const on = {
    telemetry: { tracing: { enabled: true, endpoint: collector.urls[0] ?? '' } },
  };
  try {
    const [ingestOff = 0, ingestOn = 0] = await bestOf([
      async () => (await ingestRun(SECONDS)).perSecond,
      async () => (await ingestRun(SECONDS, undefined, on)).perSecond,
    ]);
    const [fanOff = 0, fanOn = 0] = await bestOf([
      async () => rate(10, slowest(await fanoutRun(10))),
      async () => rate(10, slowest(await fanoutRun(10, undefined, { config: on }))),
    ]);
    return [
      {
        scenario: 'tracing',
        figure: 'accepted events/s with tracing on (baseline: tracing off)',
        relay: ingestOn,
        baseline: ingestOff,
        ratio: ingestOn / ingestOff,
        unit: '/s',
      },
      {
        scenario: 'tracing',
        figure: 'delivered events/s, 10 receivers, tracing on (baseline: tracing off)',
        relay: fanOn,
        baseline: fanOff,
        ratio: fanOn / fanOff,
        unit: '/s',
      },
    ];
  } finally {
    collector.stop();
  }
}
