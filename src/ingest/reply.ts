import type { FastifyReply } from 'fastify';
import { errorBody } from '../core/errors.ts';

/** What ingest accepts: both envelope versions the registry sends, and plain JSON. */
export const INGEST_MEDIA_TYPES = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
];

/** What a source's route also takes: CloudEvents in structured mode (Harbor, zot). */
export const SOURCE_MEDIA_TYPES = [...INGEST_MEDIA_TYPES, 'application/cloudevents+json'];

/** Every refusal of the ingest listener: a status and the one error body. */
export function refuse(
  reply: FastifyReply,
  status: number,
  error: string,
  message: string,
  extra?: Readonly<Record<string, unknown>>,
) {
  return reply.code(status).send(errorBody(error, message, extra));
}

/** 415, naming the types that are accepted. */
export function unsupportedType(
  reply: FastifyReply,
  contentType: string | undefined,
  accepted: readonly string[] = INGEST_MEDIA_TYPES,
) {
  return refuse(
    reply,
    415,
    'unsupported_media_type',
    `Content-Type ${contentType === undefined ? '(none)' : JSON.stringify(contentType)} is not accepted; send one of ${accepted.join(', ')}`,
  );
}
