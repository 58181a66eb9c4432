import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'

// Where a job's callbackUrl is checked at the door: the allow-list (JOB_CALLBACK_ALLOWED_URLS) and the
// OpenAPI document that states it. Nothing here is ever called: refused URLs are never stored, so the
// receivers need not exist. Delivery itself is test/worker/job-callbacks.test.ts.
const base = 'http://127.0.0.1:9'
const otherBase = 'http://127.0.0.1:10'
const json = { 'content-type': 'application/json' }

describe('callback url checks', () => {
  let nats: NatsServerFixture
  let env: Env
  let ingress: InProcessIngress

  beforeAll(async () => {
    nats = await startNatsServer()
    env = queueEnv(nats.url, { JOB_CALLBACK_ALLOWED_URLS: `${base}/hooks/,${otherBase}/` })
    ingress = await startIngress(env)
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  const submit = (app: InProcessIngress, callbackUrl: unknown) =>
    app.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: { type: 'user', payload: { user_id: 'x' }, callbackUrl } })

  it('callback url checks - a callbackUrl outside JOB_CALLBACK_ALLOWED_URLS is refused with 400 problem+json, and nothing is queued', async () => {
    for (const callbackUrl of [
      `${base}/admin`,
      'http://169.254.169.254/latest/meta-data/',
      `${base}/hooks/../admin`,
      `${base}/hooks/%2e%2e/admin`,
      `${base.replace('127.0.0.1', 'user:pw@127.0.0.1')}/hooks/x`,
      '/hooks/relative',
      `${base}/hooks/${'x'.repeat(2048)}`,
      42,
    ]) {
      const response = await submit(ingress, callbackUrl)
      expect(response.statusCode, String(callbackUrl)).toBe(400)
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
      const problem = response.json<{ type: string; detail: string }>()
      expect(problem.type).toBe('urn:sluice:problem:invalid-request')
      expect(problem.detail).toMatch(/callbackUrl/)
    }
    expect((await ingress.app.inject({ method: 'GET', url: '/v1/queue' })).json()).toMatchObject({ depth: 0 })
  })

  it('callback url checks - the OpenAPI document offers callbackUrl with the pattern of the allowed prefixes', async () => {
    const document = (await ingress.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { properties: Record<string, { pattern: string }> } }> } } }>
    }>()
    const schema = document.paths['/v1/jobs']!.post.requestBody.content['application/json']!.schema
    const pattern = new RegExp(schema.properties.callbackUrl!.pattern, 'u')
    expect(pattern.test(`${base}/hooks/a?b=c`)).toBe(true)
    expect(pattern.test(`${otherBase}/x`)).toBe(true)
    expect(pattern.test(`${base}/admin`)).toBe(false)
    expect(pattern.test(`${base}/hooks/a b`)).toBe(false)
  })

  it('callback url checks - with JOB_CALLBACK_ALLOWED_URLS empty (the default), a callbackUrl is an unknown field: 400', async () => {
    const { JOB_CALLBACK_ALLOWED_URLS: _allowed, ...off } = env
    const plain = await startIngress(off)
    try {
      const response = await submit(plain, `${base}/hooks/ok/off`)
      expect(response.statusCode).toBe(400)
      expect(response.json<{ detail: string }>().detail).toMatch(/callbackUrl/)
      expect((await plain.app.inject({ method: 'GET', url: '/openapi.json' })).body).not.toContain('callbackUrl')
    } finally {
      await plain.close()
    }
  })
})
