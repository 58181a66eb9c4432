import swagger from '@fastify/swagger'
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import { PROBLEM_MEDIA_TYPE, problemSchema } from './problem.ts'

/** What the document needs to know of the running configuration. */
export interface OpenApiDocumentOptions {
  /** API keys are on: every route but the public ones may answer 401 and 403. */
  readonly apiKeys: boolean
  /** A per-client rate limit is on: every route but the public ones may answer 429. */
  readonly rateLimit: boolean
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads a body of any media type (or ignores it): it answers 415 only to a malformed Content-Type. */
    anyContentType?: boolean
  }
}

// The two ways auth-plugin.ts takes a key.
const API_KEY_SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <key>`' },
  apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: '`X-API-Key: <key>`' },
} as const

/**
 * Generates `/openapi.json` (served by routes/openapi-route.ts) from the route schemas, completed by
 * {@link documentAnswers}. Register before the routes: both collect them as they are added.
 */
export async function registerOpenApiDocument(app: FastifyInstance, options: OpenApiDocumentOptions): Promise<void> {
  app.addSchema(problemSchema)
  await app.register(swagger, {
    // Name shared schemas by their $id (for example `Problem`) in the document.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      info: {
        title: 'Sluice ingress',
        version: '0.1.0',
        description: 'Accepts jobs at once into a bounded queue; answers 503 with Retry-After when it is full.',
      },
      ...(options.apiKeys ? { components: { securitySchemes: API_KEY_SECURITY_SCHEMES } } : {}),
    },
  })
  documentAnswers(app, options)
}

const PROBLEM_REF = 'Problem#'
const problem = (description: string) => ({ description, content: { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: PROBLEM_REF } } } })

// What each problem status means on any route (docs/api.md "Errors"). An answer a route spells out itself (the
// seed's text or problem) is kept as it is.
const PROBLEM_DESCRIPTIONS: Readonly<Record<string, string>> = {
  400: 'The request is not valid; the problem details name what is wrong',
  401: 'No API key, or one that is not valid',
  403: 'The API key lacks the scope this route needs',
  404: 'Not found',
  413: 'The body is larger than JOB_MAX_BYTES',
  415: 'The body is not JSON',
  429: 'Too many requests (server ingest overload, past INGRESS_RATE_LIMIT_PER_SECOND, or, with API keys on, too many failed authentications from this address); see Retry-After',
  503: 'The queue is full or cannot be reached; see Retry-After',
}
const describeStatus = (status: string | number) => PROBLEM_DESCRIPTIONS[status] ?? 'Problem details'

/**
 * Completes each route's documented answers from what the ingress does to every route, so that
 * `/openapi.json` matches the answers and no route can forget one:
 * - an answer a route declares as `{ $ref: 'Problem#' }` is documented as `application/problem+json`,
 *   the media type `sendProblem` sends;
 * - a route that validates its input may answer 400; one that reads a body 413 (JOB_MAX_BYTES), and 415
 *   (for a route that takes any content type, only to a Content-Type that is not a media type);
 * - with API keys on, a route that needs one may answer 401 and 403, and says which schemes it takes;
 *   with a rate limit on, or API keys (failed authentications are limited per address), it may answer 429.
 * Routes hidden from the document are left as they are.
 */
function documentAnswers(app: FastifyInstance, options: OpenApiDocumentOptions): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema
    if (!schema || schema.hide) return
    const response: Record<string, unknown> = { ...(schema.response as Record<string, unknown> | undefined) }
    for (const [status, answer] of Object.entries(response)) {
      if (isProblemRef(answer)) response[status] = problem(describeStatus(status))
    }
    const add = (status: number) => {
      response[status] ??= problem(describeStatus(status))
    }
    if (schema.params || schema.querystring || schema.headers || schema.body) add(400)
    if (takesBody(route)) {
      add(413)
      if (route.config?.anyContentType === true) response[415] ??= problem('The Content-Type header is not a media type')
      else add(415)
    }
    const needsKey = route.config?.scope !== 'public'
    const extra: Partial<FastifySchema> & { security?: unknown } = {}
    if (options.apiKeys && needsKey) {
      add(401)
      add(403)
      extra.security = [{ bearer: [] }, { apiKey: [] }]
    }
    if ((options.rateLimit || options.apiKeys) && needsKey) add(429)
    route.schema = { ...schema, ...extra, response }
  })
}

function isProblemRef(answer: unknown): boolean {
  return typeof answer === 'object' && answer !== null && (answer as { $ref?: unknown }).$ref === PROBLEM_REF && Object.keys(answer).length === 1
}

function takesBody(route: RouteOptions): boolean {
  return [route.method].flat().some((method) => method !== 'GET' && method !== 'HEAD')
}
