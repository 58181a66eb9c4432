import { mkdtempSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { gatedJobs } from '../support/gated-jobs.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'

const OWNER = 'ownership-key-owner-Tq8wN3vR6yP1'
const OTHER = 'ownership-key-other-Lm2xK7cZ4sH9'
const ADMIN = 'ownership-key-admin-Bv5jD1gF8kQ3'

// With API keys on, a job is its submitting key's (and an admin key's): another key gets 404 for it, as for
// an unknown id. The first case runs before any worker (the owner is read from the queued message), the
// others with a worker (from the job's recorded state); event streams over real HTTP.
describe('job ownership', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker | undefined
  let env: Env
  let base: string
  const { handlers, release } = gatedJobs()

  beforeAll(async () => {
    const keys = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
    writeFileSync(keys, `${OWNER}\n${OTHER}\n${ADMIN} submit,read,admin\n`)
    server = await startNatsServer()
    env = queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys })
    ingress = await startIngress(env)
    await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(ingress.app.server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    for (const done of release.values()) done()
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  const auth = (key: string) => ({ authorization: `Bearer ${key}` })
  const request = (key: string, method: 'GET' | 'HEAD' | 'DELETE', url: string) => ingress.app.inject({ method, url, headers: auth(key) })

  // The job's id: with API keys on, the Idempotency-Key scoped to the key (idempotency-scope.test.ts).
  async function submit(key: string, idempotencyKey: string, type = 'gated'): Promise<string> {
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...auth(key), 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      payload: { type, payload: {} },
    })
    expect(response.statusCode).toBe(202)
    return response.json().id
  }

  // What another key sees of the job: nothing, as for an id nobody used.
  async function expectHiddenFrom(key: string, id: string): Promise<void> {
    for (const [method, url] of [
      ['GET', `/v1/jobs/${id}`],
      ['HEAD', `/v1/jobs/${id}/events`],
      ['DELETE', `/v1/jobs/${id}`],
    ] as const) {
      const response = await request(key, method, url)
      expect(response.statusCode, `${method} ${url}`).toBe(404)
      if (method !== 'HEAD') expect(response.json()).toMatchObject({ type: 'urn:sluice:problem:not-found', status: 404 })
    }
    const stream = await fetch(`${base}/v1/jobs/${id}/events`, { headers: auth(key) })
    expect(stream.status).toBe(404)
    await stream.body?.cancel()
  }

  it('job ownership - another submit-and-read key can neither read nor watch nor cancel a queued job; the owner and an admin key can read it', async () => {
    const queued = await submit(OWNER, 'queued-1')
    await expectHiddenFrom(OTHER, queued)
    const own = await request(OWNER, 'GET', `/v1/jobs/${queued}`)
    expect(own.statusCode).toBe(200)
    expect(own.json()).toMatchObject({ id: queued, state: 'queued' })
    expect(own.json()).not.toHaveProperty('owner')
    expect((await request(ADMIN, 'GET', `/v1/jobs/${queued}`)).statusCode).toBe(200)
    expect((await request(OWNER, 'GET', `/v1/jobs/${queued}`)).json()).toMatchObject({ state: 'queued' })
  })

  it("job ownership - a running job stays its owner's: another key gets 404 and the job runs on; the owner watches it, an admin key cancels it", async () => {
    worker = await startWorker(env, handlers)
    const running = await submit(OWNER, 'running-1')
    await eventually('running-1 runs', async () => ((await request(OWNER, 'GET', `/v1/jobs/${running}`)).json().state === 'running' ? true : undefined))
    await expectHiddenFrom(OTHER, running)
    expect((await request(OWNER, 'GET', `/v1/jobs/${running}`)).json()).toMatchObject({ state: 'running' })

    const controller = new AbortController()
    const stream = await fetch(`${base}/v1/jobs/${running}/events`, { headers: auth(OWNER), signal: controller.signal })
    expect(stream.status).toBe(200)
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    expect(first).toMatch(/^event: state\ndata: .*"state":"running"/)
    expect(first).not.toMatch(/owner/)
    controller.abort()

    const cancelled = await request(ADMIN, 'DELETE', `/v1/jobs/${running}`)
    expect(cancelled.statusCode).toBe(200)
    expect(cancelled.json()).toMatchObject({ state: 'cancelled' })
    expect(cancelled.json()).not.toHaveProperty('owner')
  })

  it('job ownership - the owner cancels its own job, and another key sees it no more once finished', async () => {
    const ownCancel = await submit(OWNER, 'own-cancel-1')
    expect((await request(OWNER, 'DELETE', `/v1/jobs/${ownCancel}`)).json()).toMatchObject({ state: 'cancelled' })
    await expectHiddenFrom(OTHER, ownCancel)
    expect((await request(ADMIN, 'GET', `/v1/jobs/${ownCancel}`)).json()).toMatchObject({ state: 'cancelled' })
  })

  it("job ownership - a redriven dead letter stays its owner's", async () => {
    // No handler takes this type: the worker dead-letters it at once, and again after the redrive.
    const dead = await submit(OWNER, 'dead-1', 'no-such-type')
    await eventually('dead-1 is dead', async () => ((await request(OWNER, 'GET', `/v1/jobs/${dead}`)).json().state === 'dead' ? true : undefined))
    const redriven = await ingress.app.inject({ method: 'POST', url: `/v1/dead-letters/${dead}/redrive`, headers: auth(ADMIN) })
    expect(redriven.statusCode).toBeLessThan(300)
    await expectHiddenFrom(OTHER, dead)
    expect((await request(OWNER, 'GET', `/v1/jobs/${dead}`)).statusCode).toBe(200)
  })
})
