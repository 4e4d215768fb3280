// Scenario "memory": what a pending event costs while its endpoint is down. One endpoint
// refusing connections; 20,000 events ingested and left pending first, so that what the
// process needs once (code, pools, the young generation grown to its working size) is in
// the starting point; then 100,000 more. RSS and V8 heap growth per pending event over
// those 100,000, against the size of the event's own JSON (the least any store needs).
import { benchEvent, closedPortUrl, ingest, rssBytes, startRelayProcess, until } from './lib.ts';
import { atMost, type Row } from './result.ts';

const WARM = 20_000;
const PENDING = 100_000;

export async function memoryScenario(): Promise<Row[]> {
  const relay = await startRelayProcess({
    notifications: {
      endpoints: [
        { name: 'dead', url: await closedPortUrl(), queue: { maxPending: (WARM + PENDING) * 2 } },
      ],
    },
  });
  try {
    const pending = async () =>
      (await relay.vars()).registry.notifications.endpoints[0]?.Metrics.Pending ?? 0;
    await ingest(relay.ingestUrl, WARM);
    await until(async () => (await pending()) >= WARM, 30_000, 'warm-up events pending');
    await settle();
    const rss0 = rssBytes(relay.pid);
    const heap0 = (await relay.vars()).memstats.HeapAlloc;
    await ingest(relay.ingestUrl, PENDING);
    await until(async () => (await pending()) >= WARM + PENDING, 30_000, 'events pending');
    await settle();
    const rss1 = rssBytes(relay.pid);
    const heap1 = (await relay.vars()).memstats.HeapAlloc;
    const eventBytes = Buffer.byteLength(JSON.stringify({ events: [benchEvent()] }));
    const per = (a: number, b: number) => (b - a) / PENDING;
    const figure = (what: string) =>
      `${what} per pending event, ${WARM.toLocaleString('en-US')} → ${(WARM + PENDING).toLocaleString('en-US')} pending, endpoint down`;
    return [
      atMost(
        {
          scenario: 'memory',
          figure: figure('RSS'),
          relay: per(rss0, rss1),
          baseline: eventBytes,
          unit: 'B',
        },
        // Its own JSON plus less than 300 bytes.
        eventBytes + 300,
      ),
      {
        scenario: 'memory',
        figure: figure('V8 heap'),
        relay: per(heap0, heap1),
        baseline: eventBytes,
        ratio: per(heap0, heap1) / eventBytes,
        unit: 'B',
      },
    ];
  } finally {
    await relay.stop();
  }
}

/** Two idle seconds: V8 collects the ingest garbage once allocation stops. */
const settle = () => new Promise((r) => setTimeout(r, 2_000));
