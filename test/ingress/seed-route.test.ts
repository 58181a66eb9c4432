import { mkdtempSync, writeFileSync } from 'node:fs'
import { connect as connectTcp } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
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

  it("seed route - GET and POST queue a user job with the seed's text answer", async () => {
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
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/?user_id=8',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=b',
    })
    expect(response.statusCode).toBe(200)
  })

  it("seed route - a missing or empty user_id is the seed's 400", async () => {
    for (const url of ['/', '/?user_id=', '/?other=1']) {
      const response = await ingress.app.inject({ method: 'GET', url })
      expect(response.statusCode).toBe(400)
      expect(response.headers['content-type']).toMatch(/^text\/plain/)
      expect(response.body).toBe("missing 'user_id' in query params")
    }
  })

  it("seed route - a full queue is 503 with Retry-After and the seed's text, and the stream never exceeds max_msgs", async () => {
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

  it("seed route - a full queue refused by the server itself is the seed's 503, counted once", async () => {
    const before = (await ingress.app.queue.metrics.rejected.get()).values.find((value) => value.labels.reason === 'queue_full')?.value ?? 0
    // Past the full-queue hold, so that this refusal comes from the server, not from the one the ingress keeps.
    await eventually('the full-queue hold to end', () => (ingress.app.queue.publisher.refusal() === undefined ? true : undefined))
    const refused = await ingress.app.inject({ method: 'GET', url: '/?user_id=over' })
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe('3')
    expect(refused.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(refused.headers['x-content-type-options']).toBe('nosniff')
    expect(refused.body).toBe('our internal queue is full, try it later')
    const after = (await ingress.app.queue.metrics.rejected.get()).values.find((value) => value.labels.reason === 'queue_full')?.value
    expect(after).toBe(before + 1)
  })
})

describe('seed route over a socket', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let env: Record<string, string>
  let baseUrl: string

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url)
    ingress = await startIngress(env)
    baseUrl = await ingress.app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  it('seed route over a socket - a client that hangs up before its answer: its job is stored all the same, and the ingress carries on', async () => {
    const jsm = await jetstreamManager(ingress.nats.nc)
    const { port } = new URL(baseUrl)
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const socket = connectTcp(Number(port), '127.0.0.1')
        return new Promise<void>((resolve) => {
          socket.on('connect', () => {
            socket.write(`GET /?user_id=gone-${i} HTTP/1.1\r\nhost: x\r\n\r\n`, () => socket.destroy())
          })
          socket.on('close', () => resolve())
        })
      }),
    )
    await eventually('the abandoned jobs to be stored', async () => ((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 20 ? true : undefined))
    const after = await fetch(`${baseUrl}/?user_id=after`)
    expect(after.status).toBe(200)
    expect(await after.text()).toBe('queuing user process: after')
  })

  it('seed route over a socket - while draining, answers close their connection', async () => {
    ingress.startDraining()
    const draining = await fetch(`${baseUrl}/?user_id=late`)
    expect(draining.status).toBe(200)
    expect(draining.headers.get('connection')).toBe('close')
  })
})

describe('seed route with JOB_TYPES_FILE', () => {
  let server: NatsServerFixture

  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  async function ingressWithTypes(types: Record<string, unknown>, stream: string): Promise<InProcessIngress> {
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-types-')), 'job-types.json')
    writeFileSync(file, JSON.stringify({ types }))
    return startIngress(queueEnv(server.url, { JOB_TYPES_FILE: file, QUEUE_STREAM: stream }))
  }

  it('seed route - a job types file without `user` makes the seed route a 400 problem naming the known types, and nothing is queued', async () => {
    const ingress = await ingressWithTypes({ greet: {} }, 'SEED_NO_USER')
    try {
      const response = await ingress.app.inject({ method: 'GET', url: '/?user_id=7' })
      expect(response.statusCode).toBe(400)
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(response.json()).toMatchObject({ status: 400, detail: 'unknown job type "user"; the known types are: greet' })
      const jsm = await jetstreamManager(ingress.nats.nc)
      expect((await jsm.streams.info('SEED_NO_USER')).state.messages).toBe(0)
    } finally {
      await ingress.close()
    }
  })

  it("seed route - a job types file listing `user` checks the seed's payload against its schema", async () => {
    const digits = { payload: { type: 'object', required: ['user_id'], properties: { user_id: { type: 'string', pattern: '^[0-9]+$' } } } }
    const ingress = await ingressWithTypes({ user: digits }, 'SEED_USER_SCHEMA')
    try {
      expect((await ingress.app.inject({ method: 'GET', url: '/?user_id=7' })).body).toBe('queuing user process: 7')
      const refused = await ingress.app.inject({ method: 'GET', url: '/?user_id=ada' })
      expect(refused.statusCode).toBe(400)
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
      const jsm = await jetstreamManager(ingress.nats.nc)
      expect((await jsm.streams.info('SEED_USER_SCHEMA')).state.messages).toBe(1)
    } finally {
      await ingress.close()
    }
  })
})
