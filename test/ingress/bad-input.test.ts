import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const JOB_MAX_BYTES = 1024
const json = { 'content-type': 'application/json' }

interface BadInput {
  readonly name: string
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  readonly url: string
  readonly headers?: Record<string, string>
  readonly payload?: string
  readonly status: number
}

// Each case: a request a careless or hostile client might send, and the 4xx it must get.
const cases: readonly BadInput[] = [
  // Larger than JOB_MAX_BYTES: refused before parsing.
  {
    name: 'oversized body',
    method: 'POST',
    url: '/v1/jobs',
    headers: json,
    payload: JSON.stringify({ type: 't', payload: 'x'.repeat(JOB_MAX_BYTES) }),
    status: 413,
  },
  { name: 'malformed JSON', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"type": "t", "payload": ', status: 400 },
  { name: 'empty JSON body', method: 'POST', url: '/v1/jobs', headers: json, payload: '', status: 400 },
  { name: 'JSON that is not an object', method: 'POST', url: '/v1/jobs', headers: json, payload: '[1,2]', status: 400 },
  { name: 'missing payload', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"type":"t"}', status: 400 },
  { name: 'missing type', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"payload":{}}', status: 400 },
  { name: 'type of the wrong JSON type', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"type":5,"payload":{}}', status: 400 },
  { name: 'type with odd characters', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"type":"a b/c","payload":{}}', status: 400 },
  { name: 'unknown field', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"type":"t","payload":{},"priority":1}', status: 400 },
  {
    name: 'Idempotency-Key with characters a subject cannot carry',
    method: 'POST',
    url: '/v1/jobs',
    headers: { ...json, 'idempotency-key': 'a.b*c' },
    payload: '{"type":"t","payload":1}',
    status: 400,
  },
  {
    name: 'Idempotency-Key too long',
    method: 'POST',
    url: '/v1/jobs',
    headers: { ...json, 'idempotency-key': 'k'.repeat(129) },
    payload: '{"type":"t","payload":1}',
    status: 400,
  },
  { name: 'text/plain content type', method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'text/plain' }, payload: 'hello', status: 415 },
  {
    name: 'form content type',
    method: 'POST',
    url: '/v1/jobs',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'type=t',
    status: 415,
  },
  { name: 'unknown content type', method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/xml' }, payload: '<job/>', status: 415 },
  { name: 'huge user_id', method: 'GET', url: `/?user_id=${'9'.repeat(300)}`, status: 400 },
  { name: 'user_id with a control character', method: 'GET', url: '/?user_id=abc%0Adef', status: 400 },
  { name: 'user_id given twice', method: 'GET', url: '/?user_id=1&user_id=2', status: 400 },
  { name: 'job id with dots', method: 'GET', url: '/v1/jobs/a.b', status: 400 },
  { name: 'URL that is not valid percent-encoding', method: 'GET', url: '/v1/jobs/%', status: 400 },
  { name: 'unknown route', method: 'GET', url: '/v2/nothing', status: 404 },
  { name: 'wrong method on a route', method: 'DELETE', url: '/v1/jobs', status: 405 },
]

describe('bad input', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let env: Record<string, string>

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, { JOB_MAX_BYTES: String(JOB_MAX_BYTES) })
    ingress = await startIngress(env)
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  it.each(cases)('bad input - $name gets $status with a problem+json body', async (bad) => {
    const response = await ingress.app.inject({
      method: bad.method,
      url: bad.url,
      headers: bad.headers ?? {},
      ...(bad.payload === undefined ? {} : { payload: bad.payload }),
    })
    expect(response.statusCode).toBe(bad.status)
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    const problem = response.json()
    expect(problem).toMatchObject({
      status: bad.status,
      type: expect.stringMatching(/^urn:sluice:problem:/),
      title: expect.any(String),
      detail: expect.any(String),
    })
  })

  it('bad input - nothing from the bad requests reached the queue', async () => {
    const jsm = await jetstreamManager(ingress.nats.nc)
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(0)
  })

  it('bad input - a body just under the limit is accepted', async () => {
    const payload = JSON.stringify({ type: 't', payload: 'x'.repeat(JOB_MAX_BYTES - 40) })
    expect(payload.length).toBeLessThanOrEqual(JOB_MAX_BYTES)
    const response = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload })
    expect(response.statusCode).toBe(202)
  })
})
