/**
 * Every error the relay makes, in one module, as undici's `errors.js`: a base class with a
 * fixed `code` and `name`, one subclass per failure. A caller recognises a failure by its
 * class (or code) from here, never by importing the layer that threw it, nor by a
 * message's wording. Anything thrown that is not a RelayError is a defect: the HTTP layer
 * answers it `500 internal` and logs it whole (see `errorReply`).
 */
export abstract class RelayError extends Error {
  /** Stable, for logs and for callers to branch on: `RELAY_…`. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

// --- core: events and sources -------------------------------------------------------

/** Why an envelope was refused, and where in it. */
export class EnvelopeError extends RelayError {
  readonly code = 'RELAY_BAD_ENVELOPE';
  readonly where: string;

  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.where = where;
  }
}

/** A source's body is not what its sender sends: 400, naming what is wrong. */
export class SourceBodyError extends RelayError {
  readonly code = 'RELAY_BAD_SOURCE_BODY';

  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
  }
}

/** A source request failed verification (header, HMAC, path secret): 401. */
export class VerifyError extends RelayError {
  readonly code = 'RELAY_UNVERIFIED';
}

// --- registries -----------------------------------------------------------------------

/** Why a registry request failed, as metrics, logs and `relay.image.unavailable` name it. */
export type RegistryFailure =
  | 'unreachable'
  | 'timeout'
  | 'unauthorized'
  | 'denied'
  | 'not_found'
  | 'bad_answer'
  | 'too_large'
  | 'server_error';

/** A registry request that came to nothing: its registry, what was asked and why it failed. */
export class RegistryError extends RelayError {
  readonly code = 'RELAY_REGISTRY';
  readonly registry: string;
  readonly reason: RegistryFailure;

  constructor(
    registry: string,
    reason: RegistryFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`registry ${registry}: ${message}`, options);
    this.registry = registry;
    this.reason = reason;
  }
}

// --- config ---------------------------------------------------------------------------

/** A config that cannot be used; `problems` has one line per problem, each naming its field. */
export class ConfigError extends RelayError {
  readonly code = 'RELAY_CONFIG_INVALID';
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`invalid config ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** A pattern that cannot be compiled; the config loader names the endpoint and field. */
export class PatternError extends RelayError {
  readonly code = 'RELAY_BAD_PATTERN';
}

/** A template that refers to something no event has; `where` is the path in the body. */
export class TemplateError extends RelayError {
  readonly code = 'RELAY_BAD_TEMPLATE';
  readonly where: string;

  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.where = where;
  }
}

/** A `since` that is neither a duration nor a date. */
export class SinceError extends RelayError {
  readonly code = 'RELAY_BAD_SINCE';
}

/** The attempts log's `status` query is not a result nor a status code. */
export class AttemptQueryError extends RelayError {
  readonly code = 'RELAY_BAD_ATTEMPT_QUERY';
}

/** A name given for an endpoint (a filter, a path) that is neither configured nor stored. */
export class UnknownEndpointError extends RelayError {
  readonly code = 'RELAY_UNKNOWN_ENDPOINT';

  constructor(name: string, known: readonly string[]) {
    super(
      `endpoint ${JSON.stringify(name)}: no such endpoint in the config or in storage (known: ${known.join(', ') || 'none'})`,
    );
  }
}

// --- endpoint: one delivery -------------------------------------------------------------

/** The sink was closed or destroyed; the event was not taken. */
export class SinkClosedError extends RelayError {
  readonly code = 'RELAY_SINK_CLOSED';
  readonly endpoint: string;

  constructor(endpoint: string) {
    super(`endpoint ${endpoint}: sink is closed`);
    this.endpoint = endpoint;
  }
}

/** The events cannot be rendered: no attempt could succeed, so they are dead-lettered. */
export class FormatError extends RelayError {
  readonly code = 'RELAY_FORMAT';
}

export type DeliveryErrorCode =
  | 'RELAY_HTTP_STATUS'
  | 'RELAY_HTTP_REDIRECT'
  | 'RELAY_TIMEOUT'
  | 'RELAY_CONNECTION'
  /** No request was made: the credentials for it could not be had (an OAuth2 token). */
  | 'RELAY_AUTH';

/** One failed attempt: an unwanted status (a failure) or no status at all (an error). */
export class DeliveryError extends RelayError {
  readonly code: DeliveryErrorCode;
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly location: string | undefined;
  /** The transport's own code for connection errors, e.g. ECONNREFUSED. */
  readonly causeCode: string | undefined;
  /** What a 429 or 503 asked for with Retry-After, in milliseconds (uncapped). */
  readonly retryAfterMs: number | undefined;

  constructor(
    endpoint: string,
    code: DeliveryErrorCode,
    message: string,
    extra: {
      status?: number;
      location?: string;
      causeCode?: string;
      cause?: unknown;
      retryAfterMs?: number | undefined;
    } = {},
  ) {
    super(message, { cause: extra.cause });
    this.endpoint = endpoint;
    this.code = code;
    this.status = extra.status;
    this.location = extra.location;
    this.causeCode = extra.causeCode;
    this.retryAfterMs = extra.retryAfterMs;
  }
}

/**
 * The retrying sink gave up on a delivery: retry.maxAttempts or retry.maxAge was reached,
 * or its events cannot be rendered in the endpoint's format (no attempt could succeed).
 */
export class GaveUpError extends RelayError {
  readonly code = 'RELAY_GAVE_UP';
  readonly attempts: number;
  readonly lastError: string;

  constructor(endpoint: string, attempts: number, reason: string, lastError: string) {
    super(`${endpoint}: gave up after ${String(attempts)} attempts (${reason}): ${lastError}`);
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

/**
 * With a shared backend, a failed attempt that is not the last ends the write: the delivery
 * loop gives the events back with `delayMs`, the breaker's wait (0 below `threshold`).
 */
export class DeferredError extends RelayError {
  readonly code = 'RELAY_DEFERRED';
  readonly delayMs: number;

  constructor(endpoint: string, delayMs: number) {
    super(`${endpoint}: attempt failed; offered again in ${String(delayMs)} ms`);
    this.delayMs = delayMs;
  }
}

// --- storage --------------------------------------------------------------------------

/** Ingest must not answer 2xx: storage is full or cannot write. */
export class StorageUnavailableError extends RelayError {
  readonly code: 'RELAY_STORAGE_FULL' | 'RELAY_STORAGE_WRITE';

  constructor(code: StorageUnavailableError['code'], message: string, cause?: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

/** NATS could not be used (connect, auth, TLS, streams): the message names the servers. */
export class NatsUnavailableError extends RelayError {
  readonly code = 'RELAY_NATS_UNAVAILABLE';
}

// --- commands -------------------------------------------------------------------------

/** A usage mistake on the command line: exit 2 with this message. */
export class UsageError extends RelayError {
  readonly code = 'RELAY_USAGE';
}

/** The reload command could not reach a running relay; the message says why. */
export class ReloadCommandError extends RelayError {
  readonly code = 'RELAY_RELOAD_COMMAND';
}

// --- HTTP answers ---------------------------------------------------------------------

/** Every error body the relay's listeners send: a code to branch on, a sentence to read. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly [extra: string]: unknown;
}

/** The one place an HTTP error body is made (ingest, sources, admin API, debug routes). */
export function errorBody(
  error: string,
  message: string,
  extra?: Readonly<Record<string, unknown>>,
): ErrorBody {
  return extra === undefined ? { error, message } : { error, message, ...extra };
}

/** What a listener answers for an error no route expected: a defect, never dressed up. */
export const INTERNAL: ErrorBody = errorBody(
  'internal',
  'internal error: the relay logged it; nothing of this request was accepted',
);
