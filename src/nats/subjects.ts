import type { MsgHdrs } from '@nats-io/transport-node';
import { traceHeaders, traceOf } from '../core/tracing.ts';
// How the NATS backend names things: endpoint subject tokens and the headers it sets.

/** Headers a relay sets on every message it publishes. */
export const H = {
  acceptedAt: 'Relay-Accepted-At',
  eventId: 'Relay-Event-Id',
  action: 'Relay-Action',
  mediaType: 'Relay-Media-Type',
  attempts: 'Relay-Attempts',
  error: 'Relay-Error',
  /** The event's trace (tracing on), under the W3C names. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

export const TRACE_HEADERS = [H.traceparent, H.tracestate] as const;

/** Sets an event's trace on a message as the W3C headers. */
export function setTrace(h: MsgHdrs, trace: string): void {
  const { traceparent, tracestate } = traceHeaders(trace);
  h.set(H.traceparent, traceparent);
  if (tracestate !== undefined) h.set(H.tracestate, tracestate);
}

/** The trace a message's headers name, if any. */
export function traceIn(h: MsgHdrs): string | undefined {
  return traceOf(h.get(H.traceparent), h.get(H.tracestate));
}

/**
 * An endpoint name as one subject token and consumer name: kept as it is when it is made
 * of letters, digits, `_` and `-`, else `x` and the hex of its UTF-8 bytes.
 */
export function endpointToken(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : `x${Buffer.from(name).toString('hex')}`;
}

/** The endpoint name behind a subject token (see endpointToken). */
export function endpointOfToken(token: string): string {
  return /^x[0-9a-f]+$/.test(token) ? Buffer.from(token.slice(1), 'hex').toString() : token;
}
