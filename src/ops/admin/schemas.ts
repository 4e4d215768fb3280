// The JSON schemas the admin API's resources share: Fastify validates requests with them,
// serialises answers by them, and @fastify/swagger publishes them at /api/v1/openapi.json.

export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** The refusals a write can meet: bad input, no or wrong token, read-only, unknown, conflict. */
export const writeErrors = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
} as const;

const outcomeSchema = {
  type: ['object', 'null'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    status: { type: 'integer' },
    code: { type: 'string' },
    message: { type: 'string', description: 'Only to a request with a valid token.' },
  },
} as const;

export const endpointSchema = {
  type: 'object',
  required: ['name', 'state', 'url', 'pending', 'inFlight', 'paused', 'disabled'],
  properties: {
    name: { type: 'string' },
    state: {
      type: 'string',
      enum: ['delivering', 'rate-limited', 'retrying', 'backing-off', 'paused', 'disabled'],
    },
    url: { type: 'string', description: 'Scheme, host and port; the rest as a fingerprint.' },
    pending: { type: 'integer' },
    oldestPendingAgeSeconds: { type: 'number' },
    inFlight: {
      type: 'integer',
      description: 'Requests in flight, those of a pipeline a reload is replacing included.',
    },
    paused: { type: 'boolean' },
    disabled: { type: 'boolean' },
    delivered: { type: 'integer', description: 'Events delivered since start.' },
    failed: { type: 'integer', description: 'Failed attempts since start.' },
    lastMinute: {
      type: 'object',
      properties: {
        delivered: { type: 'integer' },
        failed: { type: 'integer' },
        deliveredPerSecond: { type: 'array', items: { type: 'integer' } },
        failedPerSecond: { type: 'array', items: { type: 'integer' } },
      },
    },
    lastSuccess: outcomeSchema,
    lastFailure: outcomeSchema,
    rateLimit: {
      type: 'object',
      description:
        'With rateLimit configured: the limit, and the requests waiting for it on this relay.',
      properties: {
        requests: { type: 'integer' },
        perSeconds: { type: 'number' },
        burst: { type: 'integer' },
        waiting: { type: 'integer', description: 'Requests waiting for their turn now.' },
        waitedSeconds: { type: 'number', description: 'Time requests waited for it since start.' },
      },
    },
    breaker: {
      type: 'object',
      properties: {
        consecutiveFailures: { type: 'integer' },
        nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
      },
    },
  },
} as const;

export const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' } },
} as const;

export interface NameParams {
  name: string;
}
