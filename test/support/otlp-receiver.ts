// An OTLP/HTTP traces receiver, as a collector answers `POST /v1/traces` (JSON bodies):
// every span it was sent, with its resource's attributes.
import { startReceiver, waitUntil } from './helpers.ts';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** 2 SERVER, 3 CLIENT (OTLP's numbering). */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  /** 2 ERROR, else unset or OK. */
  readonly status: number | undefined;
  readonly links: readonly { traceId: string; spanId: string }[];
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
type OtlpAttributes = { key: string; value: OtlpValue }[] | undefined;

function attributes(list: OtlpAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue === undefined ? undefined : Number(value.intValue)) ??
      value.doubleValue ??
      value.boolValue ??
      '';
  }
  return out;
}

interface OtlpBody {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttributes };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttributes;
        status?: { code?: number };
        links?: { traceId: string; spanId: string }[];
      }[];
    }[];
  }[];
}

/** Starts the receiver on a port the OS chose; `url` is its base (OTEL_EXPORTER_OTLP_ENDPOINT). */
export async function startOtlpReceiver() {
  const receiver = await startReceiver((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  const base = `http://127.0.0.1:${String(receiver.port)}`;
  const spans = (): ReceivedSpan[] =>
    receiver.requests
      .filter((r) => r.url === '/v1/traces')
      .flatMap((r) => {
        const body = JSON.parse(r.body) as OtlpBody;
        return (body.resourceSpans ?? []).flatMap((rs) => {
          const resource = attributes(rs.resource?.attributes);
          return (rs.scopeSpans ?? []).flatMap((ss) =>
            (ss.spans ?? []).map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId === '' ? undefined : s.parentSpanId,
              name: s.name,
              kind: s.kind,
              attributes: attributes(s.attributes),
              resource,
              status: s.status?.code,
              links: s.links ?? [],
            })),
          );
        });
      });
  return {
    base,
    /** The traces URL, for `telemetry.tracing.endpoint`. */
    url: `${base}/v1/traces`,
    spans,
    /** Other paths or methods than a trace export (none expected). */
    strays: () => receiver.requests.filter((r) => r.url !== '/v1/traces' || r.method !== 'POST'),
    /** Waits until the spans received satisfy `cond`; resolves with them. */
    async waitFor(
      cond: (spans: ReceivedSpan[]) => boolean,
      what: string,
      timeoutMs = 20_000,
    ): Promise<ReceivedSpan[]> {
      await waitUntil(() => cond(spans()), timeoutMs, what);
      return spans();
    },
    close: () => receiver.close(),
  };
}

export type OtlpReceiver = Awaited<ReturnType<typeof startOtlpReceiver>>;

/** A W3C traceparent with fresh random ids, sampled, and its two ids. */
export function newTraceparent(): { traceparent: string; traceId: string; spanId: string } {
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = hex(32);
  const spanId = hex(16);
  return { traceparent: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** The trace and span id of a traceparent header. */
export function idsOf(traceparent: unknown): { traceId: string; spanId: string } | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent);
  return m === null ? undefined : { traceId: m[1] ?? '', spanId: m[2] ?? '' };
}
