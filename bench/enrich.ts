// Scenario "enrich": what reading facts from the registry costs. A real docker-registry
// holds 30 images; events name them by digest and host.
// fan-out: 10 receivers × 10,000 events naming 10 images, every endpoint `enrich: true`
//   (manifest, config, referrers), against the same run without `registries`.
// requests per event: registry requests in the enriched run ÷ events accepted.
// time to facts: 20 events, each naming an image the relay has not read yet, one every
//   100 ms to one receiver: accept-to-receipt p50 with facts, against without enrichment.
import { registryBinary, startRegistry } from '../test/support/registry-process.ts';
import {
  benchEvent,
  epochMs,
  ingest,
  paced,
  poster,
  quantile,
  startBenchReceivers,
  startRelayProcess,
} from './lib.ts';
import { compare, compareTime, type Row } from './result.ts';

const EVENTS = 10_000;
const RECEIVERS = 10;
const COLD = 20;

type Registry = Awaited<ReturnType<typeof startRegistry>>;

function eventFor(registry: Registry, digest: string): Record<string, unknown> {
  const host = new URL(registry.base).host;
  const e = benchEvent();
  return {
    ...e,
    target: {
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      digest,
      repository: 'team/app',
      url: `http://${host}/v2/team/app/manifests/${digest}`,
      tag: 'latest',
    },
    request: { ...(e['request'] as Record<string, unknown>), host },
  };
}

const registriesConfig = (registry: Registry) => ({
  registries: [{ name: 'bench', url: registry.base, concurrency: 8 }],
});

async function fanout(registry: Registry, digests: string[], enrich: boolean) {
  const receivers = await startBenchReceivers(RECEIVERS);
  const relay = await startRelayProcess({
    ...(enrich ? registriesConfig(registry) : {}),
    notifications: {
      endpoints: receivers.urls.map((url, i) => ({
        name: `rx${String(i)}`,
        url,
        queue: { maxPending: EVENTS * 2 },
        ...(enrich ? { enrich: true } : {}),
      })),
    },
  });
  let n = 0;
  try {
    const start = epochMs();
    await ingest(relay.ingestUrl, EVENTS, 100, 4, () =>
      eventFor(registry, digests[n++ % digests.length] ?? ''),
    );
    const times = await receivers.completion(EVENTS, start);
    const text = await (await fetch(`${relay.debugUrl}/metrics`)).text();
    let requests = 0;
    for (const m of text.matchAll(/^relay_registry_requests_total\{[^}]*\} (\d+)$/gm))
      requests += Number(m[1]);
    return { rate: (RECEIVERS * EVENTS) / Math.max(...times), requests };
  } finally {
    await relay.stop();
    receivers.stop();
  }
}

async function coldLatency(
  registry: Registry,
  digests: string[],
  enrich: boolean,
): Promise<number> {
  const receivers = await startBenchReceivers(1, { latency: true });
  const relay = await startRelayProcess({
    ...(enrich ? registriesConfig(registry) : {}),
    notifications: {
      endpoints: [{ name: 'rx', url: receivers.urls[0], ...(enrich ? { enrich: true } : {}) }],
    },
  });
  const post = poster(`${relay.ingestUrl}/events`, 2);
  try {
    await paced(10, COLD / 10, (i) =>
      post.post(
        JSON.stringify({
          events: [{ ...eventFor(registry, digests[i] ?? ''), benchSentAt: epochMs() }],
        }),
      ),
    );
    await receivers.completion(COLD, 0);
    return quantile(await receivers.latencies(), 0.5);
  } finally {
    await post.close();
    await relay.stop();
    receivers.stop();
  }
}

export async function enrichScenario(): Promise<Row[]> {
  const bin = registryBinary();
  if (bin === undefined)
    throw new Error('docker-registry is not installed (apt-get install docker-registry)');
  const registry = await startRegistry(bin, []);
  try {
    const images: string[] = [];
    for (let i = 0; i < 10 + 2 * COLD; i++)
      images.push(
        (await registry.pushImage('team/app', `t${String(i)}`, `seed-${String(i)}`)).manifestDigest,
      );
    const warm = images.slice(0, 10);
    let off = 0;
    let on = 0;
    let requests = 0;
    for (let round = 0; round < 2; round++) {
      off = Math.max(off, (await fanout(registry, warm, false)).rate);
      const run = await fanout(registry, warm, true);
      on = Math.max(on, run.rate);
      requests = run.requests;
    }
    const plain = await coldLatency(registry, images.slice(10, 10 + COLD), false);
    const withFacts = await coldLatency(registry, images.slice(10 + COLD), true);
    return [
      compare(
        {
          scenario: 'enrich',
          figure: `delivered events/s with every fact (enrich: true) ÷ without registries, ${String(RECEIVERS)} receivers × ${EVENTS.toLocaleString('en-US')} events naming 10 images, best of 2`,
          relay: on,
          baseline: off,
          unit: '/s',
        },
        0.8,
      ),
      {
        scenario: 'enrich',
        figure: `registry requests per event accepted (10 digests, each read once: manifest, config, referrers)`,
        relay: requests / EVENTS,
        unit: 'requests',
      },
      compareTime({
        scenario: 'enrich',
        figure: `accept-to-receipt p50 of an event naming an image not read before (${String(COLD)} events, 10/s), with facts; baseline without enrichment`,
        relay: withFacts,
        baseline: plain,
        unit: 'ms',
      }),
    ];
  } finally {
    await registry.stop();
  }
}
