/**
 * Every default of the relay, in one place. Endpoint defaults are the registry's own
 * (distribution/notifications, `EndpointConfig.defaults`), so a copied endpoint list
 * behaves as it did in the registry.
 */
export const DEFAULTS = {
  http: {
    addr: '0.0.0.0:5080',
    maxBodySize: 1024 * 1024,
    debugAddr: '0.0.0.0:5081',
    dedupWindowNs: 10 * 60e9,
    dedupMaxIds: 100_000,
  },
  log: { level: 'info' },
  /** The admin API's attempts log (per endpoint) and event whereabouts. */
  attempts: { keep: 100, store: 1000, maxAgeNs: 7 * 24 * 3600e9 },
  events: { keep: 10_000 },
  shutdownTimeoutNs: 10e9,
  registry: {
    timeoutNs: 5e9,
    concurrency: 8,
    /** How long an endpoint waits for a registry's answers before it sends without them. */
    waitNs: 5e9,
    cacheDigests: 10_000,
    referrersMaxAgeNs: 30e9,
    reconcile: { intervalNs: 5 * 60e9, budget: 20 },
  },
  endpoint: {
    timeoutNs: 1e9,
    threshold: 10,
    backoffNs: 1e9,
    maxPending: 100_000,
    concurrency: 1,
    maxRetryAfterNs: 5 * 60e9,
    exponential: { initialNs: 1e9, maxNs: 5 * 60e9, jitter: 0.2 },
  },
  storage: {
    sync: 'normal',
    maxSize: 10 * 2 ** 30,
    window: 1000,
    nats: {
      stream: 'registry-relay',
      replicas: 1,
      maxAgeNs: 7 * 24 * 3600e9,
      ackWaitNs: 30e9,
      // A 3-node cluster started beside the relays (a StatefulSet, a compose file) takes
      // tens of seconds to elect its JetStream leaders; a relay waits that long, not for ever.
      startTimeoutNs: 60e9,
    },
  },
} as const;
