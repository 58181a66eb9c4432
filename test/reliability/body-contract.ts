import type { ContractLimits } from './api-contract.ts'
import type { FuzzRequest } from './http-requests.ts'
import type { SchemaCheck } from './schema-check.ts'

// The request-body half of the HTTP contract (api-contract.ts): what is wrong with a body and its
// Content-Type, worked out from the document independently of the ingress's own code.

/** A body the document describes: its media types and schema check. */
export interface DocumentedBody {
  readonly mediaTypes: readonly string[]
  readonly check: SchemaCheck
  readonly required: boolean
}

// Content types a route without a documented body still parses (Fastify's defaults).
const DEFAULT_PARSED = new Set(['application/json', 'text/plain'])
// A media type as RFC 9110 spells one (type/subtype, parameters after `;`), with the blanks parsers allow.
const MEDIA_TYPE = /^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*(;.*)?$/

const decoder = new TextDecoder()

/**
 * Calls `refuse` with each status and reason the body and its Content-Type are wrong in, for a route that
 * reads `body` (undefined: no schema, so the framework's default parsers) or takes any content type.
 */
export function checkBody(
  request: FuzzRequest,
  body: DocumentedBody | undefined,
  anyContentType: boolean,
  limits: ContractLimits,
  refuse: (status: number, reason: string) => void,
): void {
  const sent = request.body
  if (sent && sent.length > limits.jobMaxBytes) refuse(413, 'a body over JOB_MAX_BYTES')
  const contentType = request.headers['content-type']
  const mediaType = essence(contentType ?? '')
  // A Content-Type is checked when there is one, body or not.
  if (contentType !== undefined && !MEDIA_TYPE.test(contentType)) {
    // A Content-Type that is no media type at all (`;`, an empty one) is a 415 on every route that reads a
    // body, the seed's too (it takes any media type, but not a malformed header).
    refuse(415, `a Content-Type that is no media type (${JSON.stringify(contentType)})`)
  }
  if (anyContentType) return
  const parsed = body ? body.mediaTypes : [...DEFAULT_PARSED]
  if ((contentType !== undefined || (sent !== undefined && sent.length > 0)) && !parsed.includes(mediaType)) {
    // An unparsed media type is a 415; a parsed one the schema does not expect (text/plain) a 400.
    refuse(415, `a ${JSON.stringify(contentType ?? 'missing')} content type`)
    if (DEFAULT_PARSED.has(mediaType) && body) refuse(400, 'a body of another type than the schema')
  }
  if (sent === undefined || sent.length === 0) {
    if (body?.required) refuse(400, 'no body')
    if (mediaType === 'application/json') refuse(400, 'an empty JSON body')
    return
  }
  if (mediaType !== 'application/json') return
  const text = decoder.decode(sent)
  if (text.trim() === '') {
    refuse(400, 'a blank JSON body')
    return
  }
  if (jsonDepth(text) > limits.jobMaxDepth) {
    refuse(400, 'JSON nested deeper than JOB_MAX_DEPTH')
    return
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    refuse(400, 'a body that is not JSON')
    return
  }
  if (body && !body.check(value)) refuse(400, 'a body off its schema')
}

/** The media type of a Content-Type value, lower case, without parameters. */
export function essence(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase()
}

// Deliberately not the ingress's json-depth.ts: the contract is an oracle of its own.
/** Deepest nesting of arrays and objects in a JSON text (strings skipped). */
function jsonDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth)
    else if (c === ']' || c === '}') depth--
  }
  return deepest
}
