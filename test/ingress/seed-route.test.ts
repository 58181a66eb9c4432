import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

describe('seed route', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let env: Record<string, string>

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, { QUEUE_MAX_MESSAGES: '5', INGRESS_RETRY_AFTER_SECONDS: '3' })
    ingress = await startIngress(env)
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  it('seed route - GET and POST queue a user job with the seed\'s text answer', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const response = await ingress.app.inject({ method, url: '/?user_id=7' })
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/^text\/plain/)
      expect(response.body).toBe('queuing user process: 7')
    }
    const jsm = await jetstreamManager(ingress.nats.nc)
    const stored = await jsm.streams.getMessage(env.QUEUE_STREAM!, { seq: 1 })
    expect(stored?.header.get('Sluice-Job-Type')).toBe('user')
    expect(stored?.json()).toEqual({ user_id: '7' })
  })

  it('seed route - POST ignores any body, as the seed did', async () => {
    const response = await ingress.app.inject({ method: 'POST', url: '/?user_id=8', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' })
    expect(response.statusCode).toBe(200)
  })

  it('seed route - a missing or empty user_id is the seed\'s 400', async () => {
    for (const url of ['/', '/?user_id=', '/?other=1']) {
      const response = await ingress.app.inject({ method: 'GET', url })
      expect(response.statusCode).toBe(400)
      expect(response.headers['content-type']).toMatch(/^text\/plain/)
      expect(response.body).toBe("missing 'user_id' in query params")
    }
  })

  it('seed route - a full queue is 503 with Retry-After and the seed\'s text, and the stream never exceeds max_msgs', async () => {
    // Concurrent flood well past the capacity of 5 (three are already queued by the tests above).
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => ingress.app.inject({ method: 'GET', url: `/?user_id=flood-${i}` })))
    const accepted = answers.filter((answer) => answer.statusCode === 200)
    const refused = answers.filter((answer) => answer.statusCode === 503)
    expect(accepted.length + refused.length).toBe(40)
    expect(refused.length).toBeGreaterThan(0)
    for (const answer of refused) {
      expect(answer.headers['retry-after']).toBe('3')
      expect(answer.body).toBe('our internal queue is full, try it later')
    }
    const jsm = await jetstreamManager(ingress.nats.nc)
    const info = await jsm.streams.info(env.QUEUE_STREAM!)
    expect(info.state.messages).toBe(5)
    expect(accepted.length).toBe(5 - 3)
  })
})
