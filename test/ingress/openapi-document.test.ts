import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean }>
  responses: Record<string, { content?: Record<string, unknown> }>
}
type Document = { paths: Record<string, Record<string, Operation>> }

const json = { 'content-type': 'application/json' }

// What /openapi.json says must be what the routes do (issue 13): these are the disagreements found by
// schemathesis and by hand; test/ingress/openapi-schemathesis.test.ts keeps looking for new ones.
describe('openapi document', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress
  let env: Record<string, string>
  let document: Document

  beforeAll(async () => {
    nats = await startNatsServer()
    env = queueEnv(nats.url)
    ingress = await startIngress(env)
    document = (await ingress.app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>()
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ label: `${method.toUpperCase()} ${path}`, operation })),
    )

  it('openapi document - every 4xx and 5xx is documented with the media type it is sent with, never plain JSON', () => {
    for (const { label, operation } of operations()) {
      for (const [status, answer] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue
        const mediaTypes = Object.keys(answer.content ?? {})
        expect(mediaTypes, `${label} ${status}`).toContain('application/problem+json')
        expect(mediaTypes, `${label} ${status}`).not.toContain('application/json')
      }
    }
  })

  it('openapi document - the seed route documents text/plain answers and a required user_id', () => {
    for (const method of ['get', 'post']) {
      const seed = document.paths['/']![method]!
      expect(seed.parameters?.find((parameter) => parameter.name === 'user_id')).toMatchObject({ in: 'query', required: true })
      expect(Object.keys(seed.responses['200']!.content!)).toEqual(['text/plain'])
      for (const status of ['400', '503']) expect(Object.keys(seed.responses[status]!.content!).sort()).toEqual(['application/problem+json', 'text/plain'])
    }
  })

  it('openapi document - every operation that validates its input documents the 400', () => {
    for (const { label, operation } of operations()) {
      if ((operation.parameters ?? []).length === 0 && !(operation as { requestBody?: unknown }).requestBody) continue
      expect(Object.keys(operation.responses), label).toContain('400')
    }
    expect(Object.keys(document.paths['/v1/dead-letters/{id}/redrive']!.post!.responses)).toContain('400')
  })

  it('openapi document - every POST documents 413 and 415; the seed, which takes any media type, a 415 for a malformed Content-Type only', async () => {
    for (const { label, operation } of operations()) {
      if (!label.startsWith('POST ')) continue
      expect(Object.keys(operation.responses), label).toContain('413')
      expect(Object.keys(operation.responses), label).toContain('415')
    }
    const seed415 = operations().find(({ label }) => label === 'POST /')!.operation.responses['415'] as { description?: string }
    expect(seed415.description).toMatch(/not a media type/)
    const xml = { 'content-type': 'application/xml' }
    expect((await ingress.app.inject({ method: 'POST', url: '/v1/dead-letters/redrive', headers: xml, payload: '<x/>' })).statusCode).toBe(415)
    expect((await ingress.app.inject({ method: 'POST', url: '/?user_id=xml', headers: xml, payload: '<x/>' })).statusCode).toBe(200)
    const malformed = await ingress.app.inject({ method: 'POST', url: '/?user_id=bad-type', headers: { 'content-type': ';' }, payload: 'x' })
    expect(malformed.statusCode).toBe(415)
    expect(malformed.headers['content-type']).toMatch(/^application\/problem\+json/)
  })

  it('openapi document - answers carry the media types the document gives them', async () => {
    const problem = await ingress.app.inject({ method: 'GET', url: '/v1/jobs/a.b' })
    expect(problem.statusCode).toBe(400)
    expect(problem.headers['content-type']).toMatch(/^application\/problem\+json/)
    const seed = await ingress.app.inject({ method: 'GET', url: '/?user_id=doc-1' })
    expect(seed.headers['content-type']).toMatch(/^text\/plain/)
    const missing = await ingress.app.inject({ method: 'GET', url: '/' })
    expect([missing.statusCode, missing.headers['content-type'], missing.body]).toEqual([400, 'text/plain; charset=utf-8', "missing 'user_id' in query params"])
  })

  // docs/api.md: "Ids ... with control characters are a problem+json 400": C0, DEL, C1 (U+0080-U+009F) and
  // the line and paragraph separators, which split log lines as well as a newline does.
  it.each(['%00', '%0A', '%1F', '%7F', '%C2%80', '%C2%85', '%C2%9F', '%E2%80%A8', '%E2%80%A9'])(
    'openapi document - a user_id holding %s is a 400',
    async (encoded) => {
      const answer = await ingress.app.inject({ method: 'GET', url: `/?user_id=a${encoded}b` })
      expect(answer.statusCode).toBe(400)
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
    },
  )

  it('openapi document - printable non-ASCII user_ids are still accepted', async () => {
    for (const encoded of ['%C2%A0', '%C3%A9', '%F0%9F%98%80', '%E2%80%A7']) {
      expect((await ingress.app.inject({ method: 'GET', url: `/?user_id=a${encoded}b` })).statusCode, encoded).toBe(200)
    }
  })

  // docs/api.md: "a malformed ... URL encoding 400". The query parser used to take these literally.
  it.each(['/?user_id=%ZZ', '/?user_id=a%C3', '/?user_id=%', '/?user_id=%E2%82', '/v1/dead-letters?limit=%2', '/?user_id=ok&x=%C0%AF'])(
    'openapi document - malformed percent-encoding in the query (%s) is a 400',
    async (url) => {
      const answer = await ingress.app.inject({ method: 'GET', url })
      expect(answer.statusCode).toBe(400)
      expect(answer.json()).toMatchObject({ type: 'urn:sluice:problem:invalid-request', detail: 'the query string is not valid percent-encoded UTF-8' })
    },
  )

  it('openapi document - a payload with __proto__ and constructor keys is stored as sent and pollutes nothing', async () => {
    const body = '{"type":"noop","payload":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":[{"__proto__":1}]}}'
    const answer = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: body })
    expect(answer.statusCode).toBe(202)
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    const jsm = await jetstreamManager(ingress.nats.nc)
    const stored = await jsm.streams.getMessage(env.QUEUE_STREAM!, { last_by_subj: `${env.QUEUE_SUBJECT_PREFIX}.${answer.json<{ id: string }>().id}` })
    expect(stored?.string()).toBe('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":[{"__proto__":1}]}')
  })

  it('openapi document - __proto__ at the top of a body is refused by name, as an unknown field', async () => {
    const answer = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: '{"type":"noop","payload":1,"__proto__":{"x":1}}' })
    expect(answer.statusCode).toBe(400)
    expect(answer.json().detail).toBe("body must NOT have the unknown field '__proto__'")
  })
})
