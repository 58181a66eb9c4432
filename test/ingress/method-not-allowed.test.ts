import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

// Each case: a path that exists, and the methods it takes (the `Allow` of its 405).
const paths: ReadonlyArray<readonly [url: string, allow: string]> = [
  ['/?user_id=1', 'GET, POST'],
  ['/v1/jobs', 'POST'],
  ['/v1/jobs/some-id', 'GET, HEAD, DELETE'],
  ['/v1/queue', 'GET, HEAD'],
  ['/v1/dead-letters', 'GET, HEAD'],
  ['/v1/dead-letters/some-id/redrive', 'POST'],
  ['/v1/dead-letters/redrive', 'POST'],
  ['/openapi.json', 'GET, HEAD'],
]

describe('method not allowed', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress

  beforeAll(async () => {
    nats = await startNatsServer()
    ingress = await startIngress(queueEnv(nats.url))
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  it.each(paths)('method not allowed - a method %s does not take is 405 with Allow: %s', async (url, allow) => {
    const taken = allow.split(', ')
    // QUERY carries a body and needs a content type: the 405 comes before either is looked at.
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'QUERY'] as const) {
      if (taken.includes(method)) continue
      const response = await ingress.app.inject({ method, url })
      expect(response.statusCode, `${method} ${url}`).toBe(405)
      expect(response.headers.allow, `${method} ${url}`).toBe(allow)
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(response.json()).toMatchObject({ type: 'urn:sluice:problem:method-not-allowed', status: 405 })
    }
  })

  it('method not allowed - an unknown path is still 404, whatever the method', async () => {
    for (const method of ['GET', 'DELETE', 'OPTIONS'] as const) {
      expect((await ingress.app.inject({ method, url: '/v2/nothing' })).statusCode).toBe(404)
    }
  })
})
