import { JOB_ID_MAX_LENGTH } from '@sluice/core'
import { checkBody, essence, type DocumentedBody } from './body-contract.ts'
import type { FuzzRequest } from './http-requests.ts'
import { compileSchema, type SchemaCheck } from './schema-check.ts'

/** What the fuzz saw of one answer. */
export interface Answer {
  readonly status: number
  readonly contentType?: string | undefined
  readonly retryAfter?: string | undefined
  readonly allow?: string | undefined
  /** The body as text, when the sender kept it (problem bodies are checked against the status). */
  readonly body?: string | undefined
}

/** Whether the queue had room when the request was sent; `unknown` where requests overlap. */
export type QueueRoom = 'room' | 'full' | 'unknown'

/** Settings of the ingress under test that the document leaves to the configuration. */
export interface ContractLimits {
  /** JOB_MAX_BYTES: larger bodies are a 413. */
  readonly jobMaxBytes: number
  /** JOB_MAX_DEPTH: JSON nested deeper is a 400. */
  readonly jobMaxDepth: number
}

interface Parameter {
  readonly name: string
  readonly in: 'path' | 'query' | 'header'
  readonly required?: boolean
  readonly schema: object
}

interface Operation {
  readonly method: string
  readonly parameters: readonly (Parameter & { readonly check: SchemaCheck })[]
  /** Media types of the body and its schema check, when the document describes one. */
  readonly body: DocumentedBody | undefined
  /** Documented answers: status → media types. */
  readonly answers: ReadonlyMap<number, readonly string[]>
}

interface Route {
  readonly path: string
  readonly segments: readonly string[]
  readonly operations: ReadonlyMap<string, Operation>
}

/** What the contract allows for one request: statuses with their media types (`*` for any). */
interface Expectation {
  readonly valid: boolean
  readonly why: string
  readonly allowed: ReadonlyMap<number, readonly string[]>
  /** For a 405: the methods `Allow` must name. */
  readonly allow?: readonly string[]
}

const PROBLEM = 'application/problem+json'
// Hidden from the document; docs/api.md: liveness, readiness, metrics and the document itself.
const OPERATIONAL_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json'])
// docs/api.md "Errors": shedding refuses a request to an enqueue route before its body is read (so before it is
// validated), whatever the body holds.
const ENQUEUE_OPERATIONS = new Set(['POST /v1/jobs', 'GET /', 'POST /'])
// The router refuses a path parameter longer than a job id may be, as the document's id pattern does.
const MAX_PARAM_LENGTH = JOB_ID_MAX_LENGTH
// Client errors the document calls validation: a valid request never gets them.
const CLIENT_ERRORS = new Set([400, 413, 415])

/**
 * The ingress's HTTP contract as its own OpenAPI document (`/openapi.json`) and docs/api.md "Errors" state it,
 * as an oracle for the fuzz: for each request it works out, independently of the ingress's code, whether
 * the request is valid and so which answers it may get. A valid request gets a documented answer that is
 * not a client error (2xx while the queue has room); an invalid one gets the documented 4xx of what is
 * wrong with it, as problem+json (several when several things are wrong, since their order is not part of
 * the contract), never a 2xx.
 */
export class ApiContract {
  readonly #routes: readonly Route[]
  readonly #limits: ContractLimits

  private constructor(routes: readonly Route[], limits: ContractLimits) {
    this.#routes = routes
    this.#limits = limits
  }

  /** Reads the routes, parameters, bodies and answers out of an OpenAPI 3 document. */
  static fromDocument(document: unknown, limits: ContractLimits): ApiContract {
    const paths = (document as { paths: Record<string, Record<string, RawOperation>> }).paths
    const routes: Route[] = Object.entries(paths).map(([path, operations]) => ({
      path,
      segments: path.split('/'),
      operations: new Map(
        Object.entries(operations).map(([method, raw]) => {
          const bodyContent = raw.requestBody?.content ?? {}
          const bodySchema = Object.values(bodyContent)[0]?.schema
          const operation: Operation = {
            method: method.toUpperCase(),
            parameters: (raw.parameters ?? []).map((parameter) => ({ ...parameter, check: compileSchema(parameter.schema) })),
            body: bodySchema
              ? { mediaTypes: Object.keys(bodyContent), check: compileSchema(bodySchema), required: raw.requestBody?.required === true }
              : undefined,
            answers: new Map(Object.entries(raw.responses).map(([status, answer]) => [Number(status), Object.keys(answer.content ?? { '*': {} })])),
          }
          return [operation.method, operation]
        }),
      ),
    }))
    return new ApiContract(routes, limits)
  }

  /**
   * Why `answer` is not one the contract allows for `request` (sent while the queue had `room`), or
   * undefined when it is. `request.url` must be the URL as the server received it.
   */
  violation(request: FuzzRequest, answer: Answer, room: QueueRoom): string | undefined {
    const expected = this.expect(request, room)
    const types = expected.allowed.get(answer.status)
    if (!types)
      return `${answer.status} where the contract allows ${[...expected.allowed.keys()].join('/')} (${expected.valid ? 'valid' : 'invalid'}: ${expected.why})`
    const mediaType = essence(answer.contentType ?? '')
    if (!types.includes('*') && !types.includes(mediaType))
      return `${answer.status} as ${answer.contentType ?? 'no content type'} where the contract says ${types.join(' or ')} (${expected.why})`
    if ((answer.status === 503 || answer.status === 429) && !answer.retryAfter) return `${answer.status} without Retry-After`
    if (answer.status === 405) {
      const allow = new Set(
        (answer.allow ?? '')
          .split(',')
          .map((method) => method.trim())
          .filter((method) => method !== 'HEAD'),
      )
      if (!sameSet(allow, new Set(expected.allow))) return `405 with Allow "${answer.allow ?? ''}" where the path takes ${expected.allow?.join(', ')}`
    }
    if (mediaType === PROBLEM && request.method !== 'HEAD' && answer.body !== undefined) {
      const status = (JSON.parse(answer.body) as { status?: unknown }).status
      if (status !== answer.status) return `problem body with status ${String(status)} on a ${answer.status}`
    }
    return undefined
  }

  /** What the contract allows for `request`, sent while the queue had `room`. */
  expect(request: FuzzRequest, room: QueueRoom): Expectation {
    const queryAt = request.url.indexOf('?')
    const path = queryAt === -1 ? request.url : request.url.slice(0, queryAt)
    const query = queryAt === -1 ? undefined : request.url.slice(queryAt + 1)
    const malformedQuery = query !== undefined && !decodes(query)
    if (!decodes(path)) return invalid('a path that is not percent-encoded UTF-8', [400])

    if (OPERATIONAL_PATHS.has(path)) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return notAllowed(['GET'], malformedQuery)
      if (malformedQuery) return invalid('a malformed query', [400])
      return { valid: true, why: 'an operational route', allowed: new Map([[200, ['*']], ...(path === '/readyz' ? [[503, ['*']] as const] : [])]) }
    }
    const match = this.#match(path)
    if (!match) {
      // The not-found route reads a body like any other, with the framework's default parsers, so what is
      // wrong with the body may be answered first.
      const allowed = new Map<number, readonly string[]>([[404, [PROBLEM]]])
      if (malformedQuery) allowed.set(400, [PROBLEM])
      if (request.method !== 'GET' && request.method !== 'HEAD') checkBody(request, undefined, false, this.#limits, (status) => allowed.set(status, [PROBLEM]))
      return { valid: false, why: 'no such path', allowed }
    }
    const { route, params } = match
    const method = request.method === 'HEAD' ? 'GET' : request.method
    const operation = route.operations.get(method)
    // docs/api.md "Errors": HEAD is answered on the read routes only (a HEAD must not enqueue).
    const headOnEnqueue = request.method === 'HEAD' && ENQUEUE_OPERATIONS.has(`GET ${route.path}`)
    if (!operation || headOnEnqueue) return notAllowed([...route.operations.keys()], malformedQuery)
    if ([...params.values()].some((value) => value.length > MAX_PARAM_LENGTH)) return invalid(`a path parameter over ${MAX_PARAM_LENGTH} characters`, [400])

    const problems = new Set<number>()
    const reasons: string[] = []
    const refuse = (status: number, reason: string) => {
      problems.add(status)
      reasons.push(reason)
    }
    if (malformedQuery) refuse(400, 'a malformed query')
    const search = new URLSearchParams(query ?? '')
    for (const parameter of operation.parameters) {
      const values =
        parameter.in === 'path'
          ? [decodeURIComponent(params.get(parameter.name) ?? '')]
          : parameter.in === 'query'
            ? search.getAll(parameter.name)
            : request.headers[parameter.name] === undefined
              ? []
              : [request.headers[parameter.name]!]
      if (values.length === 0) {
        if (parameter.required) refuse(400, `no ${parameter.name}`)
      } else if (values.length > 1 || !parameter.check(values[0])) refuse(400, `${parameter.in} ${parameter.name} off its schema`)
    }
    // docs/api.md: the seed route takes a body of any media type (it reads only the query).
    const anyContentType = !operation.body && ENQUEUE_OPERATIONS.has(`POST ${route.path}`)
    // The framework reads the body of every method but GET and HEAD (a DELETE's too).
    if (request.method !== 'GET' && request.method !== 'HEAD') checkBody(request, operation.body, anyContentType, this.#limits, refuse)
    // The document cannot say that a route refuses query parameters it does not list (the dead-letter
    // listing does, with a 400); where a route documents a 400, an unlisted one may get it.
    const listed = new Set(operation.parameters.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name))
    const unlisted = [...search.keys()].some((name) => !listed.has(name))

    const key = `${request.method === 'HEAD' ? 'GET' : request.method} ${route.path}`
    const enqueues = ENQUEUE_OPERATIONS.has(key)
    const allowed = new Map<number, readonly string[]>()
    const documented = (status: number) => {
      const types = operation.answers.get(status)
      if (types) allowed.set(status, types)
    }
    if (problems.size > 0) {
      for (const status of problems) allowed.set(status, operation.answers.get(status) ?? [PROBLEM])
      // Shedding comes before validation on the enqueue routes.
      if (enqueues && room !== 'room') documented(503)
      return { valid: false, why: reasons.join(', '), allowed }
    }
    for (const status of operation.answers.keys()) {
      if (CLIENT_ERRORS.has(status) && !(status === 400 && unlisted)) continue
      // While the queue has room a valid job is stored; once it is full, it is refused.
      if (enqueues && room === 'room' && status === 503) continue
      if (enqueues && room === 'full' && status >= 200 && status < 300) continue
      documented(status)
    }
    return { valid: true, why: `a valid ${key}`, allowed }
  }

  #match(path: string): { route: Route; params: Map<string, string> } | undefined {
    const segments = path.split('/')
    for (const route of this.#routes) {
      if (route.segments.length !== segments.length) continue
      const params = new Map<string, string>()
      const fits = route.segments.every((segment, i) => {
        const name = /^\{(.+)\}$/.exec(segment)?.[1]
        if (name) params.set(name, segments[i]!)
        return name !== undefined || segment === segments[i]
      })
      if (fits) return { route, params }
    }
    return undefined
  }
}

interface RawOperation {
  readonly parameters?: readonly Parameter[]
  readonly requestBody?: { readonly required?: boolean; readonly content: Record<string, { readonly schema?: object }> }
  readonly responses: Record<string, { readonly content?: Record<string, unknown> }>
}

function invalid(why: string, statuses: readonly number[]): Expectation {
  return { valid: false, why, allowed: new Map(statuses.map((status) => [status, [PROBLEM]])) }
}

function notAllowed(methods: readonly string[], malformedQuery: boolean): Expectation {
  return {
    valid: false,
    why: 'a method the path does not take',
    allowed: new Map([[405, [PROBLEM]], ...(malformedQuery ? [[400, [PROBLEM]] as const] : [])]),
    allow: methods,
  }
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text)
    return true
  } catch {
    return false
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item))
}
