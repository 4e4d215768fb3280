import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  diag,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, TraceState, parseTraceParent } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import {
  traceHeaders,
  type AttemptOutcomeSpan,
  type AttemptSpan,
  type AttemptStart,
  type IngestOutcome,
  type IngestRequest,
  type IngestSpan,
  type Tracing,
} from '../core/tracing.ts';

/** What tracing runs on, resolved from the `telemetry.tracing` block and `OTEL_*`. */
export interface TracingPlan {
  /** The OTLP/HTTP traces URL (JSON encoding), e.g. http://collector:4318/v1/traces. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Resource attributes, `service.name` among them. */
  readonly resource: Readonly<Record<string, string>>;
  readonly sampler: SamplerPlan;
  /** How long one export may take. */
  readonly timeoutMs: number;
}

export interface SamplerPlan {
  readonly root: 'always_on' | 'always_off' | 'traceidratio';
  /** 0..1, for traceidratio. */
  readonly ratio: number;
  /** Follow the sender's sampled flag when it sent a traceparent. */
  readonly parentBased: boolean;
}

type ExportListener = (ok: boolean, spans: number) => void;

function sampler(plan: SamplerPlan): Sampler {
  const root =
    plan.root === 'always_on'
      ? new AlwaysOnSampler()
      : plan.root === 'always_off'
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(plan.ratio);
  return plan.parentBased ? new ParentBasedSampler({ root }) : root;
}

/** The exporter, reporting each export's outcome. */
class CountingExporter implements SpanExporter {
  readonly #next: SpanExporter;
  listener: ExportListener | undefined;

  constructor(next: SpanExporter) {
    this.#next = next;
  }

  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.#next.export(spans, (result) => {
      this.listener?.(result.code === ExportResultCode.SUCCESS, spans.length);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#next.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#next.forceFlush?.() ?? Promise.resolve();
  }
}

const HEX_FLAGS = ['00', '01'] as const;

function traceparentOf(ctx: SpanContext): string {
  const flags = HEX_FLAGS[ctx.traceFlags & TraceFlags.SAMPLED] ?? '00';
  return `00-${ctx.traceId}-${ctx.spanId}-${flags}`;
}

/** The context an event's stored `trace` names, or undefined when it names none. */
function contextOf(stored: string | undefined): Context | undefined {
  if (stored === undefined) return undefined;
  const { traceparent, tracestate } = traceHeaders(stored);
  const parent = parseTraceParent(traceparent);
  if (parent === null) return undefined;
  parent.isRemote = true;
  if (tracestate !== undefined) parent.traceState = new TraceState(tracestate);
  return trace.setSpanContext(ROOT_CONTEXT, parent);
}

function stateOf(ctx: SpanContext): string | undefined {
  const state = ctx.traceState?.serialize();
  return state === undefined || state === '' ? undefined : state;
}

class SdkIngestSpan implements IngestSpan {
  readonly context: string;
  readonly #span: Span;

  constructor(span: Span) {
    this.#span = span;
    const ctx = span.spanContext();
    const state = stateOf(ctx);
    this.context = state === undefined ? traceparentOf(ctx) : `${traceparentOf(ctx)}\n${state}`;
  }

  end(outcome: IngestOutcome): void {
    const span = this.#span;
    span.setAttribute('http.response.status_code', outcome.status);
    if (outcome.accepted !== undefined)
      span.setAttribute('relay.events.accepted', outcome.accepted);
    if (outcome.duplicates !== undefined) {
      span.setAttribute('relay.events.duplicates', outcome.duplicates);
    }
    if (outcome.error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
    }
    span.end();
  }
}

class SdkAttemptSpan implements AttemptSpan {
  readonly traceparent: string;
  readonly tracestate: string | undefined;
  readonly #span: Span;

  constructor(span: Span) {
    this.#span = span;
    const ctx = span.spanContext();
    this.traceparent = traceparentOf(ctx);
    this.tracestate = stateOf(ctx);
  }

  end(outcome: AttemptOutcomeSpan): void {
    const span = this.#span;
    if (outcome.status !== undefined)
      span.setAttribute('http.response.status_code', outcome.status);
    if (outcome.code !== undefined) span.setAttribute('error.type', outcome.code);
    if (outcome.retryDelayMs !== undefined) {
      span.setAttribute('relay.retry.delay_ms', Math.round(outcome.retryDelayMs));
    }
    if (outcome.gaveUp !== undefined) span.setAttribute('relay.retry.gave_up', outcome.gaveUp);
    if (outcome.code !== undefined || outcome.gaveUp !== undefined) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: outcome.message ?? outcome.code ?? outcome.gaveUp ?? 'failed',
      });
    }
    span.end();
  }
}

/**
 * Tracing with the OpenTelemetry SDK: spans batched (BatchSpanProcessor) and exported over
 * OTLP/HTTP. The SDK's own context manager is not used: each span's parent is named
 * explicitly (the sender's traceparent, an event's stored trace), so nothing hooks the
 * event loop and no other code's spans mix in.
 */
export class SdkTracing implements Tracing {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;
  readonly #exporter: CountingExporter;
  #stopped: Promise<void> | undefined;

  constructor(plan: TracingPlan, opts: { log: Logger }) {
    const log = opts.log.child({ component: 'tracing' });
    // The SDK reports failed exports through `diag`; they reach the relay's log.
    diag.setLogger(
      {
        error: (message, ...args) => {
          log.warn({ detail: args }, `tracing: ${message}`);
        },
        warn: (message, ...args) => {
          log.warn({ detail: args }, `tracing: ${message}`);
        },
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    this.#exporter = new CountingExporter(
      new OTLPTraceExporter({
        url: plan.url,
        headers: { ...plan.headers },
        timeoutMillis: plan.timeoutMs,
      }),
    );
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes(plan.resource),
      sampler: sampler(plan.sampler),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: this.#exporter,
          // Spans wait at most a second before they leave, in batches of up to 512.
          scheduledDelayMillis: 1_000,
          maxQueueSize: 8_192,
        }),
      ],
    });
    this.#tracer = this.#provider.getTracer('registry-relay');
  }

  ingest(request: IngestRequest): IngestSpan {
    const parent =
      request.traceparent === undefined
        ? undefined
        : contextOf(
            request.tracestate === undefined
              ? request.traceparent
              : `${request.traceparent}\n${request.tracestate}`,
          );
    const span = this.#tracer.startSpan(
      request.route,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': 'POST',
          'http.route': request.route,
          'relay.source': request.source,
          'relay.events': request.events,
        },
      },
      parent ?? ROOT_CONTEXT,
    );
    return new SdkIngestSpan(span);
  }

  attempt(attempt: AttemptStart): AttemptSpan {
    // A child of the first event's ingest span; the other events' traces, in a batch, are
    // links.
    let parent: Context | undefined;
    let links: Link[] | undefined;
    for (const event of attempt.events) {
      const ctx = contextOf(event.trace);
      if (ctx === undefined) continue;
      if (parent === undefined) {
        parent = ctx;
        continue;
      }
      const linked = trace.getSpanContext(ctx);
      if (linked !== undefined) (links ??= []).push({ context: linked });
    }
    const attributes: Attributes = {
      'http.request.method': 'POST',
      'url.full': attempt.url,
      'relay.endpoint': attempt.endpoint,
      'relay.attempt': attempt.attempt,
      'relay.delivery.id': attempt.deliveryId,
      'relay.events': attempt.events.length,
    };
    const first = attempt.events[0];
    if (attempt.events.length === 1 && first !== undefined) {
      attributes['relay.event.id'] = first.id;
    }
    const span = this.#tracer.startSpan(
      `deliver ${attempt.endpoint}`,
      { kind: SpanKind.CLIENT, attributes, ...(links === undefined ? {} : { links }) },
      parent ?? ROOT_CONTEXT,
    );
    return new SdkAttemptSpan(span);
  }

  onExport(listener: ExportListener): void {
    this.#exporter.listener = listener;
  }

  shutdown(): Promise<void> {
    this.#stopped ??= this.#provider.shutdown().catch(() => undefined);
    return this.#stopped;
  }
}
