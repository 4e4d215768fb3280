import type { Tracing } from '../core/tracing.ts';
import type { Logger } from 'pino';
import type { Endpoint, TestOutcome } from '../metrics/endpoint-view.ts';
import type { Clock } from '../core/clock.ts';
import type { EndpointConfig, FormatConfig } from '../config/endpoint.ts';
import type { RelayMetrics } from '../metrics/registry.ts';
import { EndpointStats } from '../metrics/endpoint-stats.ts';
import { defersRetries, type Storage } from '../storage/storage.ts';
import { DeliveryLoop, type DeliveryPolicy } from '../endpoint/delivery-loop.ts';
import { Breaker } from '../endpoint/breaker.ts';
import { Filter, filterStage } from '../endpoint/filter.ts';
import { marking } from './whereabouts.ts';
import { cloudEventsFormat } from '../endpoint/format/cloudevents.ts';
import { envelopeFormat } from '../endpoint/format/envelope.ts';
import { type Format } from '../endpoint/format/format.ts';
import { slackFormat } from '../endpoint/format/slack.ts';
import { templateFormat } from '../endpoint/format/template.ts';
import { Delivery } from '../endpoint/delivery.ts';
import { HttpSink } from '../endpoint/http.ts';
import type { AttemptOutcome, EndpointListener } from '../endpoint/listener.ts';
import { OAuth2Sink, TokenSource } from '../endpoint/oauth2.ts';
import { RateLimitedSink, RateLimiter } from '../endpoint/rate-limit.ts';
import { RetryingSink } from '../endpoint/retry.ts';
import { Signer } from '../endpoint/signing.ts';
import { buildTransport } from '../core/transport.ts';
import { redactUrl } from '../core/redact.ts';
import type { RelayEvent } from '../core/event.ts';
import type { AttemptLog } from '../history/attempts.ts';
import type { EventTrail } from '../history/events.ts';
import { DeliveryError, FormatError } from '../core/errors.ts';
import type { ImageFactsSource } from '../core/image.ts';
import { EnrichingSink, FactFilter } from '../endpoint/enrich.ts';

/** A listener that records nothing: a test request counts in no metric. */
const silentListener: EndpointListener = {
  restorePending: () => undefined,
  onFiltered: () => undefined,
  onQueued: () => undefined,
  onDropped: () => undefined,
  onDeliveryStarted: () => undefined,
  onAttempt: () => undefined,
  onSkipped: () => undefined,
  onDelivered: () => undefined,
  onDeadLettered: () => undefined,
};

export interface PipelineDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: RelayMetrics;
  /** Where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read (process.env in production). */
  readonly env: NodeJS.ProcessEnv;
  /** Where the endpoint's backlog is kept (memory or the journal). */
  readonly storage: Storage;
  /** The figures of the pipeline this one replaces (same name), to carry on with. */
  readonly stats?: EndpointStats | undefined;
  /** The pipeline this one replaces let go of the backlog once this resolves. */
  readonly startAfter?: Promise<void> | undefined;
  /** The attempts log, when on: the HTTP sink reports every attempt to it. */
  readonly attempts?: AttemptLog | undefined;
  /** Paused through the admin API: the loop starts paused. */
  readonly paused?: boolean | undefined;
  /** Event whereabouts, when on: delivered, dead-lettered and dropped events are marked. */
  readonly trail?: EventTrail | undefined;
  /** The configured registries, when there are any: tags resolved, facts added. */
  readonly images?: ImageFactsSource | undefined;
  /** With tracing on: every delivery attempt is a span. */
  readonly tracing?: Tracing | undefined;
}

export function buildFormat(config: FormatConfig): Format {
  switch (config.type) {
    case 'envelope':
      return envelopeFormat;
    case 'cloudevents':
      return cloudEventsFormat(config.mode, config.source);
    case 'slack':
      return slackFormat;
    case 'template':
      return templateFormat(config.body, config.contentType);
  }
}

/**
 * Builds an endpoint's pipeline, read from the inside out: HTTP (one attempt: render the
 * format, sign, POST through the endpoint's transport) ← retrying (breaker with fixed or
 * exponential backoff and Retry-After, optional retry limits) ← delivery loop (isolation:
 * ingest never waits on delivery; batches and concurrent requests) over the endpoint's
 * backlog in storage (bounded in memory, or a window over the journal) ← the filter stage
 * (the registry's ignore rules, then `filter`), which the broadcaster runs for every event
 * before storage keeps it for the endpoint.
 */
export function buildEndpoint(config: EndpointConfig, deps: PipelineDeps): Endpoint {
  const stats = deps.stats ?? new EndpointStats(config.name, deps.metrics, deps.clock);
  const filter = new Filter(
    {
      mediaTypes: [...config.ignoredMediaTypes, ...config.ignore.mediaTypes],
      actions: config.ignore.actions,
    },
    config.filter,
  );
  if (config.disabled) {
    return {
      config,
      stats,
      route: undefined,
      loop: undefined,
      backlog: undefined,
      breaker: undefined,
      test: undefined,
    };
  }

  const log = deps.log.child({ endpoint: config.name });
  const timeoutMs = config.timeoutNs / 1e6;
  const transport = buildTransport({
    url: new URL(config.url),
    tls: config.tls,
    proxy: config.proxy,
    env: deps.env,
    connections: Math.max(4, config.concurrency),
    connectTimeoutMs: Math.min(timeoutMs, 10_000),
  });
  if (transport.via !== 'direct') log.info({ via: transport.via }, 'requests go through a proxy');
  if (config.tls?.insecureSkipVerify === true) {
    log.warn(
      'tls.insecureSkipVerify: the endpoint certificate is not verified; anyone on the path can read and answer its events',
    );
  }
  const listener =
    deps.trail === undefined ? stats : marking(stats, deps.trail, config.name, deps.clock);
  const sinkOptions = {
    endpoint: config.name,
    url: config.url,
    headers: config.headers,
    timeoutMs,
    listener: stats,
    dispatcher: transport.dispatcher,
    format: buildFormat(config.format),
    signer: config.signing === undefined ? undefined : new Signer(config.signing.secrets),
    clock: deps.clock,
  };
  const http = new HttpSink({
    ...sinkOptions,
    record: deps.attempts?.recorder(config.name, config.url),
  });
  const backlog = deps.storage.backlog(config.name, {
    observer: listener,
    log,
    maxPending: config.maxPending,
    maxInFlight: config.concurrency * config.batch.maxEvents,
  });
  const breaker = new Breaker(config.threshold, config.backoff);
  // The loop takes a token before it leases a delivery's events; each retry (a request
  // the receiver counts too) waits for one before it goes.
  const limiter =
    config.rateLimit === undefined ? undefined : new RateLimiter(config.rateLimit, deps.clock);
  // With auth.oauth2: each attempt carries the endpoint's token (one for all its requests).
  const authorized =
    config.oauth2 === undefined
      ? http
      : new OAuth2Sink(http, new TokenSource(config.oauth2, deps.clock));
  const limited =
    limiter === undefined
      ? authorized
      : new RateLimitedSink({
          endpoint: config.name,
          next: authorized,
          limiter,
          listener: stats,
        });
  const retrying = new RetryingSink({
    endpoint: config.name,
    next: limited,
    breaker,
    clock: deps.clock,
    log,
    limits: {
      maxAttempts: config.retry.maxAttempts,
      maxAgeMs: config.retry.maxAgeNs === undefined ? undefined : config.retry.maxAgeNs / 1e6,
      maxRetryAfterMs: config.retry.maxRetryAfterNs / 1e6,
    },
    // A shared backend (NATS) takes failed events back with the breaker's delay.
    defer: defersRetries(backlog),
    tracing:
      deps.tracing === undefined
        ? undefined
        : { tracing: deps.tracing, url: redactUrl(config.url) },
  });
  // With registries configured: tag-only pushes resolved, facts added, fact filters decided.
  const enrich = config.enrich;
  const next =
    deps.images === undefined
      ? retrying
      : new EnrichingSink({
          next: retrying,
          source: deps.images,
          wanted:
            enrich === undefined
              ? undefined
              : {
                  facts: enrich.facts,
                  waitMs: enrich.waitNs === undefined ? undefined : enrich.waitNs / 1e6,
                },
          filter: new FactFilter(config.filter),
        });
  const policy: DeliveryPolicy = {
    maxEvents: config.batch.maxEvents,
    maxWaitMs: config.batch.maxWaitNs / 1e6,
    concurrency: config.concurrency,
  };
  const loop = new DeliveryLoop({
    backlog,
    next,
    listener,
    log,
    clock: deps.clock,
    policy,
    startAfter: deps.startAfter,
    paused: deps.paused,
    rate: limiter === undefined ? undefined : { limiter, listener: stats },
  });
  const test = async (events: readonly RelayEvent[]): Promise<TestOutcome> => {
    // Its own sink over the same connections, reporting to nobody but this call.
    let outcome: AttemptOutcome | undefined;
    const probe = new HttpSink({
      ...sinkOptions,
      listener: { ...silentListener, onAttempt: (o) => (outcome = o) },
    });
    const delivery = new Delivery(events);
    try {
      await probe.write(delivery);
    } catch (err) {
      if (err instanceof FormatError) {
        return {
          ok: false,
          deliveryId: delivery.id,
          durationMs: 0,
          code: 'FORMAT',
          message: err.message,
        };
      }
      if (!(err instanceof DeliveryError)) throw err;
    }
    if (outcome === undefined) throw new Error('the test request reported no outcome');
    return {
      ok: outcome.kind === 'success',
      deliveryId: delivery.id,
      durationMs: outcome.durationMs,
      ...(outcome.kind === 'error' ? { code: outcome.code } : { status: outcome.status }),
      ...(outcome.kind === 'success' ? {} : { message: outcome.message }),
    };
  };
  const route = filterStage(config.name, filter, () => {
    listener.onFiltered();
  });
  return { config, stats, route, loop, backlog, breaker, test };
}
