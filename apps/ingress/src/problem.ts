import type { FastifyReply } from 'fastify'

/** Media type of RFC 9457 problem details. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json'
/** The `content-type` of problem answers. */
export const PROBLEM_CONTENT_TYPE = `${PROBLEM_MEDIA_TYPE}; charset=utf-8`

/** An RFC 9457 problem details body. */
export interface Problem {
  /** A URI naming the kind of problem; stable, so clients can branch on it. */
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly instance?: string
  /** Extension members (for example `errors` for validation problems). */
  readonly [extension: string]: unknown
}

/** The problem types Sluice answers with, each with its HTTP status and title. */
export const ProblemType = {
  queueFull: { type: 'urn:sluice:problem:queue-full', status: 503, title: 'Queue Full' },
  overloaded: { type: 'urn:sluice:problem:overloaded', status: 429, title: 'Too Many Requests' },
  unavailable: { type: 'urn:sluice:problem:queue-unavailable', status: 503, title: 'Queue Unavailable' },
  busy: { type: 'urn:sluice:problem:ingress-busy', status: 503, title: 'Ingress Busy' },
  invalidRequest: { type: 'urn:sluice:problem:invalid-request', status: 400, title: 'Invalid Request' },
  payloadTooLarge: { type: 'urn:sluice:problem:payload-too-large', status: 413, title: 'Payload Too Large' },
  unsupportedMediaType: { type: 'urn:sluice:problem:unsupported-media-type', status: 415, title: 'Unsupported Media Type' },
  notFound: { type: 'urn:sluice:problem:not-found', status: 404, title: 'Not Found' },
  unauthorized: { type: 'urn:sluice:problem:unauthorized', status: 401, title: 'Unauthorized' },
  forbidden: { type: 'urn:sluice:problem:forbidden', status: 403, title: 'Forbidden' },
  rateLimited: { type: 'urn:sluice:problem:rate-limited', status: 429, title: 'Too Many Requests' },
  methodNotAllowed: { type: 'urn:sluice:problem:method-not-allowed', status: 405, title: 'Method Not Allowed' },
  jobFinished: { type: 'urn:sluice:problem:job-finished', status: 409, title: 'Job Finished' },
  idempotencyConflict: { type: 'urn:sluice:problem:idempotency-conflict', status: 409, title: 'Idempotency-Key Conflict' },
  alreadyRedriven: { type: 'urn:sluice:problem:already-redriven', status: 409, title: 'Already Redriven' },
  deadLetterTooLarge: { type: 'urn:sluice:problem:dead-letter-too-large', status: 422, title: 'Dead Letter Too Large' },
  shuttingDown: { type: 'urn:sluice:problem:shutting-down', status: 503, title: 'Shutting Down' },
  requestTimeout: { type: 'urn:sluice:problem:request-timeout', status: 408, title: 'Request Timeout' },
  headersTooLarge: { type: 'urn:sluice:problem:headers-too-large', status: 431, title: 'Request Header Fields Too Large' },
  internal: { type: 'urn:sluice:problem:internal', status: 500, title: 'Internal Server Error' },
} as const

/** A kind of problem: one entry of `ProblemType`, or a variant of one with another 4xx status. */
export interface ProblemKind {
  readonly type: string
  readonly status: number
  readonly title: string
}

/** Sends a problem+json answer. */
export function sendProblem(reply: FastifyReply, kind: ProblemKind, detail: string, extensions: Record<string, unknown> = {}): FastifyReply {
  const body: Problem = { ...kind, detail, instance: reply.request.url, ...extensions }
  return reply.code(kind.status).type(PROBLEM_CONTENT_TYPE).send(body)
}

/** JSON schema of a problem body, for the OpenAPI document. */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    state: { type: 'string', description: "The job's final state, for a cancel that came too late (409)" },
    errors: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const
