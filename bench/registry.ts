// Scenario "registry": the registry's own dispatcher against the relay. Debian's
// docker-registry (Distribution 2.8.2) serves 20,000 manifest GETs (one pull event each)
// with 10 receivers to notify, once configured with the 10 receivers directly, once with
// the relay as its only endpoint. Drain time: from the first GET until every receiver has
// every event. Also the registry's CPU seconds over the same span.
import { Pool } from 'undici';
import {
  registryBinary,
  startRegistry,
  type RegistryEndpoint,
} from '../test/support/registry-process.ts';
import { cpuSeconds, epochMs, startBenchReceivers, startRelayProcess, until } from './lib.ts';
import { compare, compareTime, type Row } from './result.ts';

const PULLS = 20_000;
const RECEIVERS = 10;
const REPO = 'bench/app';

// Only pulls reach the receivers: the image pushed beforehand makes push events. (Media
// types are listed too: registry 2.8.2 ignores `actions` when no media type is ignored.)
const ignorePushes = { mediatypes: ['application/octet-stream'], actions: ['push'] };

/**
 * `direct`: the registry notifies the receivers itself. `relay`: through the relay.
 * `accept-only`: the relay accepts and delivers nowhere (its endpoint is disabled), which
 * shows how fast the registry's dispatcher can go to one endpoint at all on this machine.
 */
async function run(bin: string, via: 'direct' | 'relay' | 'accept-only') {
  const receivers = await startBenchReceivers(RECEIVERS);
  const relay =
    via === 'direct'
      ? undefined
      : await startRelayProcess({
          notifications: {
            endpoints:
              via === 'relay'
                ? receivers.urls.map((url, i) => ({ name: `rx${String(i)}`, url }))
                : [{ name: 'nowhere', url: receivers.urls[0], disabled: true }],
          },
        });
  const endpoints: RegistryEndpoint[] =
    relay === undefined
      ? receivers.urls.map((url, i) => ({ name: `rx${String(i)}`, url }))
      : [{ name: 'relay', url: `${relay.ingestUrl}/events` }];
  const registry = await startRegistry(
    bin,
    endpoints.map((e) => ({ ...e, ignore: ignorePushes })),
  );
  // Events every receiver has; in accept-only mode, events the relay accepted.
  const progress = async (): Promise<number> =>
    relay !== undefined && via === 'accept-only'
      ? (await relay.vars()).relay.ingest.events
      : Math.min(...(await receivers.counts()));
  try {
    await registry.pushImage(REPO, 'latest', 'bench');
    const pool = new Pool(registry.base, { connections: 8 });
    const cpu0 = cpuSeconds(registry.pid);
    const relayCpu0 = relay === undefined ? 0 : cpuSeconds(relay.pid);
    const start = epochMs();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < PULLS) {
          next += 1;
          const res = await pool.request({
            method: 'GET',
            path: `/v2/${REPO}/manifests/latest`,
            headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
          });
          await res.body.dump();
          if (res.statusCode !== 200) throw new Error(`GET manifest: ${String(res.statusCode)}`);
        }
      }),
    );
    const servedIn = (epochMs() - start) / 1000;
    // How far the registry's dispatcher got while it was also serving the GETs.
    const duringGets = await progress();
    await pool.close();
    let drain: number;
    if (via === 'accept-only') {
      await until(async () => (await progress()) >= PULLS, 240_000, 'the relay to accept all');
      drain = (epochMs() - start) / 1000;
    } else {
      drain = Math.max(...(await receivers.completion(PULLS, start, 240_000)));
    }
    return {
      servedIn,
      duringGets,
      drain,
      registryCpu: cpuSeconds(registry.pid) - cpu0,
      relayCpu: relay === undefined ? 0 : cpuSeconds(relay.pid) - relayCpu0,
    };
  } finally {
    await registry.stop();
    await relay?.stop();
    receivers.stop();
  }
}

export async function registryScenario(): Promise<Row[]> {
  const bin = registryBinary();
  if (bin === undefined) {
    throw new Error('docker-registry is not installed (apt-get install docker-registry)');
  }
  const direct = await run(bin, 'direct');
  const relay = await run(bin, 'relay');
  const ceiling = await run(bin, 'accept-only');
  const what = `${PULLS.toLocaleString('en-US')} pulls to ${String(RECEIVERS)} receivers`;
  return [
    compareTime(
      {
        scenario: 'registry',
        figure: `drain time, ${what} (baseline: registry's own dispatcher)`,
        relay: relay.drain,
        baseline: direct.drain,
        unit: 's',
      },
      2,
    ),
    compareTime({
      scenario: 'registry',
      figure: `drain time to a relay that only accepts: the registry's own ceiling`,
      relay: ceiling.drain,
      baseline: direct.drain,
      unit: 's',
    }),
    compareTime(
      {
        scenario: 'registry',
        figure: `registry CPU over the drain (relay column: registry → relay; relay's own: ${relay.relayCpu.toFixed(1)} s)`,
        relay: relay.registryCpu,
        baseline: direct.registryCpu,
        unit: 's',
      },
      1,
    ),
    compare({
      scenario: 'registry',
      figure: `time to serve the ${PULLS.toLocaleString('en-US')} GETs`,
      relay: relay.servedIn,
      baseline: direct.servedIn,
      unit: 's',
    }),
    compare({
      scenario: 'registry',
      figure: 'events every receiver had when the GETs were served',
      relay: relay.duringGets,
      baseline: direct.duringGets,
      unit: '',
    }),
  ];
}
