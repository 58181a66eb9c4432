import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyQueueStreams, connectNats, createLogger, type NatsHandle } from '@sluice/core'
import { buildIngress, type Ingress } from '@sluice/ingress'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv, type Env } from '../support/queue-env.ts'

const JOB_MAX_BYTES = 1024
const json = { 'content-type': 'application/json' }
const KEY = 'load-shedding-key-Wd5sJ8qN2bX7'

/** An ingress whose NATS connection the test can report as lost, so that the queue refuses every job at once. */
interface RefusableIngress extends Ingress {
  refuse(refusing: boolean): void
  close(): Promise<void>
}

async function startRefusableIngress(env: Env): Promise<RefusableIngress> {
  const config = ingressConfigFor({ PORT: '0', ...env })
  const logger = createLogger('ingress', config.log)
  const nats = await connectNats(config.nats, 'test-ingress', logger)
  await applyQueueStreams(nats.nc, config.queue, logger)
  let refusing = false
  const reported: NatsHandle = { ...nats, isConnected: () => !refusing && nats.isConnected() }
  const ingress = await buildIngress({ config, nats: reported, logger })
  await ingress.app.ready()
  return {
    ...ingress,
    refuse: (value) => {
      refusing = value
    },
    async close() {
      await ingress.app.close()
      await nats.close()
    },
  }
}

async function rejectedCount(ingress: Ingress, reason: string): Promise<number> {
  const { values } = await ingress.app.queue.metrics.rejected.get()
  return values.find((value) => value.labels.reason === reason)?.value ?? 0
}

describe('load shedding', () => {
  let server: NatsServerFixture
  let ingress: RefusableIngress

  beforeAll(async () => {
    server = await startNatsServer()
    ingress = await startRefusableIngress(queueEnv(server.url, { JOB_MAX_BYTES: String(JOB_MAX_BYTES), INGRESS_RETRY_AFTER_SECONDS: '4' }))
    ingress.refuse(true)
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  // Requests the routes refuse with a 400 or a 413 when the queue takes jobs: only a refusal that comes
  // before the body is read, parsed and validated answers them with the queue's 503.
  const invalidSubmissions = [
    { name: 'malformed JSON', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"type": "t", "payload": ' },
    { name: 'a job without a type', method: 'POST', url: '/v1/jobs', headers: json, payload: '{"payload":{}}' },
    {
      name: 'a body over JOB_MAX_BYTES',
      method: 'POST',
      url: '/v1/jobs',
      headers: json,
      payload: JSON.stringify({ type: 't', payload: 'x'.repeat(JOB_MAX_BYTES) }),
    },
    { name: 'a user_id with a control character', method: 'GET', url: '/?user_id=a%01b' },
    { name: 'a user_id over 256 characters', method: 'POST', url: `/?user_id=${'9'.repeat(300)}` },
  ] as const

  it.each(invalidSubmissions)(
    'load shedding - while the queue refuses, $name is refused before the body is read or validated (503, not 4xx)',
    async (request) => {
      const before = await rejectedCount(ingress, 'unavailable')
      const answer = await ingress.app.inject(request)
      expect(answer.statusCode).toBe(503)
      expect(answer.json()).toMatchObject({ type: 'urn:sluice:problem:queue-unavailable', status: 503 })
      expect(await rejectedCount(ingress, 'unavailable')).toBe(before + 1)
    },
  )

  it('load shedding - the refusal carries what every answer carries: problem+json, Retry-After, security headers, the request id', async () => {
    for (const [method, url] of [
      ['GET', '/?user_id=7'],
      ['POST', '/?user_id=7'],
      ['POST', '/v1/jobs'],
    ] as const) {
      const answer = await ingress.app.inject({ method, url, headers: { ...json, 'x-request-id': 'trace-1' }, payload: '{"type":"t","payload":1}' })
      expect(answer.statusCode).toBe(503)
      expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8')
      expect(answer.headers['retry-after']).toBe('4')
      expect(answer.headers['x-content-type-options']).toBe('nosniff')
      expect(answer.headers['x-request-id']).toBe('trace-1')
      expect(answer.json()).toEqual({
        type: 'urn:sluice:problem:queue-unavailable',
        title: 'Queue Unavailable',
        status: 503,
        detail: 'the queue server is not connected',
        instance: url,
      })
    }
  })

  it("load shedding - the seed's missing user_id keeps its 400, and routes that store no job are not shed", async () => {
    for (const url of ['/', '/?user_id=']) {
      const answer = await ingress.app.inject({ method: 'GET', url })
      expect(answer.statusCode).toBe(400)
      expect(answer.body).toBe("missing 'user_id' in query params")
    }
    expect((await ingress.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect((await ingress.app.inject({ method: 'HEAD', url: '/?user_id=1' })).statusCode).toBe(405)
  })

  it('load shedding - once the queue takes jobs again, the same requests get their own answers', async () => {
    ingress.refuse(false)
    try {
      expect((await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: '{"payload":{}}' })).statusCode).toBe(400)
      expect((await ingress.app.inject({ method: 'GET', url: '/?user_id=a%01b' })).statusCode).toBe(400)
      expect((await ingress.app.inject({ method: 'GET', url: '/?user_id=7' })).statusCode).toBe(200)
    } finally {
      ingress.refuse(true)
    }
  })
})

describe('load shedding behind keys and a rate limit', () => {
  let server: NatsServerFixture
  let ingress: RefusableIngress

  beforeAll(async () => {
    server = await startNatsServer()
    const keys = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
    writeFileSync(keys, `${KEY}\n`)
    ingress = await startRefusableIngress(
      queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys, INGRESS_SEED_ROUTE: 'protected', INGRESS_RATE_LIMIT_PER_SECOND: '2' }),
    )
    ingress.refuse(true)
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  it("load shedding behind keys and a rate limit - a missing key is 401 and a client past its rate 429 before the queue's 503", async () => {
    for (const url of ['/v1/jobs', '/?user_id=1']) {
      const anonymous = await ingress.app.inject({ method: 'POST', url, headers: json, payload: '{"type":"t","payload":1}' })
      expect(anonymous.statusCode).toBe(401)
    }
    // Past 2 a second: the first two are shed, the third is limited first.
    const statuses = []
    for (let i = 0; i < 3; i++) {
      const answer = await ingress.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { ...json, authorization: `Bearer ${KEY}` },
        payload: '{"type":"t","payload":1}',
      })
      statuses.push(answer.statusCode)
    }
    expect(statuses).toEqual([503, 503, 429])
  })
})

describe('load shedding through the ingress', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress
  let baseUrl: string

  beforeAll(async () => {
    nats = await startNatsServer()
    ingress = await startIngress(queueEnv(nats.url, { QUEUE_MAX_MESSAGES: '1' }))
    baseUrl = await ingress.app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  it("load shedding through the ingress - a flood on a full queue: every answer is a 503 of the route's kind, each one counted once", async () => {
    expect((await fetch(`${baseUrl}/?user_id=fill`)).status).toBe(200)
    // The first refusal comes from the server; those right after it (within FULL_HOLD_MS) are shed.
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 2 === 0 ? fetch(`${baseUrl}/?user_id=${i}`) : fetch(`${baseUrl}/v1/jobs`, { method: 'POST', headers: json, body: '{"type":"noop","payload":{}}' }),
      ),
    )
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(503)
      expect(answer.headers.get('retry-after')).toBe('2')
      expect(answer.headers.get('x-request-id')).toBeTruthy()
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff')
      if (i % 2 === 0) {
        expect(answer.headers.get('content-type')).toBe('text/plain; charset=utf-8')
        expect(await answer.text()).toBe('our internal queue is full, try it later')
      } else {
        expect(answer.headers.get('content-type')).toBe('application/problem+json; charset=utf-8')
        expect((await answer.json()) as { type: string }).toMatchObject({ type: 'urn:sluice:problem:queue-full', status: 503 })
      }
    }
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text()
    expect(metrics).toContain('sluice_ingress_jobs_rejected_total{reason="queue_full"} 60')
  })
})
