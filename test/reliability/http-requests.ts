import fc from 'fast-check'

/** One random request against the ingress's HTTP surface. */
export interface FuzzRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS' | 'HEAD'
  /** Path and query, already encoded as it goes on the request line. */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** Absent: no body. */
  readonly body?: Uint8Array
}

/** A short, printable description of a request for failure messages (bodies cut to 200 bytes). */
export function describeRequest(request: FuzzRequest): string {
  const body = request.body ? ` body(${request.body.length} B)=${JSON.stringify(Buffer.from(request.body.subarray(0, 200)).toString('latin1'))}` : ''
  return `${request.method} ${request.url.slice(0, 300)}${request.url.length > 300 ? `…(${request.url.length})` : ''} headers=${JSON.stringify(request.headers).slice(0, 500)}${body}`
}

const encoder = new TextEncoder()
// Printable ASCII: what Node's HTTP parser lets through in header values (it rejects control characters).
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 64 })
const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_')
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 32 })

const knownPaths = fc.constantFrom(
  '/',
  '/v1/jobs',
  '/v1/jobs/',
  '/v1/jobs/some-id',
  '/v1/queue',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/v1/dead-letters',
  '/v1/dead-letters/redrive',
  '/v1/dead-letters/some-id/redrive',
  '//',
  '/v1//jobs',
  '/v1/jobs/..',
  '/V1/JOBS',
  '/v1/jobs/%2e%2e',
  '/v1/jobs/a/b',
  '/*',
  '/v1/jobs?',
)
const jobIdPath = fc.oneof(token, fc.string({ maxLength: 200 })).map((id) => `/v1/jobs/${encodeURIComponent(id)}`)
const randomSegments = fc.array(fc.string({ maxLength: 20 }), { maxLength: 6 }).map((segments) => `/${segments.map(encodeURIComponent).join('/')}`)
const encodedJunk = fc.constantFrom('/%', '/%zz', '/%ff%fe', '/%00', '/v1/jobs/%c0%af', '/%u0041', '/v1/jobs/%E2%82', '/%%%%', '/v1/jobs/%0d%0a')
const longPath = fc.integer({ min: 1000, max: 8000 }).map((length) => `/${'a'.repeat(length)}`)
const path = fc.oneof({ weight: 4, arbitrary: knownPaths }, jobIdPath, randomSegments, encodedJunk, longPath)

const userId = fc.oneof(
  token,
  fc.constant(''),
  fc.string({ maxLength: 300 }),
  fc.integer({ min: 250, max: 300 }).map((length) => 'u'.repeat(length)),
  fc.constantFrom('\u0000', '\n', 'a\rb', '\u007f', 'ü', '😀', '%', '&', '='),
)
const queryPair = fc.oneof(
  userId.map((id) => `user_id=${encodeURIComponent(id)}`),
  fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })).map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`),
  fc.constantFrom('user_id', 'user_id=', 'user_id=1&user_id=2', '%zz=1', 'user_id=%zz', '&&&', 'user_id[]=1', 'user_id[a]=1'),
  // The dead-letter listing's paging.
  fc.constantFrom('limit=5', 'limit=0', 'limit=101', 'limit=x', 'after=3', 'after=-1', 'limit=1&limit=2'),
)
const query = fc.option(
  fc.array(queryPair, { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join('&')}`),
  { nil: '' },
)

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/json; charset=latin1',
    'application/json;',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/problem+json',
    'application/octet-stream',
    '',
    ';',
    'application/',
    '*/*',
  ),
  printable,
)
const idempotencyKey = fc.oneof(
  token,
  fc.constant(''),
  fc.integer({ min: 120, max: 140 }).map((length) => 'k'.repeat(length)),
  printable,
  fc.constantFrom(' a', 'a b', 'a,b', '../x', '%41', 'ü'.normalize('NFD').replace(/[^\x20-\x7e]/g, '?')),
)
const extraHeader = fc.tuple(
  token,
  fc.oneof(
    printable,
    fc.integer({ min: 1000, max: 8000 }).map((length) => 'h'.repeat(length)),
  ),
)
const headers = fc
  .record(
    {
      'content-type': contentType,
      'idempotency-key': idempotencyKey,
      'x-request-id': printable,
      accept: fc.constantFrom('*/*', 'application/json', 'text/html', 'application/problem+json', ''),
      'content-encoding': fc.constantFrom('gzip', 'identity', 'br', 'x-junk'),
    },
    { requiredKeys: [] },
  )
  .chain((known) =>
    fc.array(extraHeader, { maxLength: 3 }).map((extra) => ({ ...Object.fromEntries(extra.map(([name, value]) => [`x-${name}`, value])), ...known })),
  )

/** Bodies: none, random JSON, plausible jobs, deep nesting, invalid UTF-8, and sizes around `maxBytes`. */
export function bodyArbitrary(maxBytes: number): fc.Arbitrary<Uint8Array | undefined> {
  const text = (arbitrary: fc.Arbitrary<string>) => arbitrary.map((value) => encoder.encode(value))
  const job = fc.record({ type: fc.oneof(token, fc.string({ maxLength: 80 }), fc.jsonValue()), payload: fc.jsonValue({ maxDepth: 4 }) }, { requiredKeys: [] })
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: text(fc.json({ maxDepth: 4 })) },
    { weight: 4, arbitrary: text(job.map((value) => JSON.stringify(value))) },
    // Deep nesting, as the payload of an otherwise valid job and as the whole body.
    text(fc.integer({ min: 1, max: 20_000 }).map((depth) => `{"type":"user","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`)),
    text(fc.integer({ min: 1, max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)),
    // Bytes that are not UTF-8 (lone continuation bytes, overlongs, surrogates) inside JSON strings.
    fc.uint8Array({ maxLength: 64 }).map((junk) => Buffer.concat([Buffer.from('{"type":"user","payload":"'), Buffer.from(junk), Buffer.from('"}')])),
    fc.constantFrom(Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff, 0xfe, 0x7b, 0x7d])),
    // Right around the size limit.
    fc.integer({ min: -64, max: 64 }).map((delta) => {
      const envelope = '{"type":"user","payload":""}'.length
      return encoder.encode(`{"type":"user","payload":"${'x'.repeat(Math.max(0, maxBytes - envelope + delta))}"}`)
    }),
    text(fc.string({ maxLength: 200 })),
  )
}

/** Random requests over the whole HTTP surface; `maxBytes` is the ingress's JOB_MAX_BYTES. */
export function fuzzRequestArbitrary(maxBytes: number): fc.Arbitrary<FuzzRequest> {
  const anything = fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      path,
      query,
      headers,
      body: bodyArbitrary(maxBytes),
    })
    .map(
      ({ method, path: pathname, query: search, headers: sent, body }): FuzzRequest => ({
        method,
        url: `${pathname}${search}`,
        headers: sent,
        // GET and HEAD with a body are legal but odd; keep them, except HEAD, which some clients refuse.
        ...(body && method !== 'HEAD' ? { body } : {}),
      }),
    )
  // Plausible submissions, so the accepted path (and queue-full shedding) is fuzzed too, not only refusals.
  const submission = fc
    .record({
      key: fc.option(fc.oneof(token, idempotencyKey), { nil: undefined }),
      type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('user', 'noop') }, token),
      payload: fc.jsonValue({ maxDepth: 6 }),
    })
    .map(
      ({ key, type, payload }): FuzzRequest => ({
        method: 'POST',
        url: '/v1/jobs',
        headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
        body: encoder.encode(JSON.stringify({ type, payload })),
      }),
    )
  return fc.oneof({ weight: 3, arbitrary: anything }, { weight: 1, arbitrary: submission })
}
