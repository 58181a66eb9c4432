import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

describe('jobs api', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let env: Record<string, string>

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, { QUEUE_MAX_MESSAGES: '50' })
    ingress = await startIngress(env)
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  it('jobs api - POST /v1/jobs answers 202 with id, type, queuedAt and a Location that resolves', async () => {
    const response = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: { type: 'report', payload: { n: 1 } } })
    expect(response.statusCode).toBe(202)
    const body = response.json()
    expect(body).toMatchObject({ type: 'report', duplicate: false })
    expect(body.id).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(Date.parse(body.queuedAt)).not.toBeNaN()
    expect(response.headers.location).toBe(`/v1/jobs/${body.id}`)

    const status = await ingress.app.inject({ method: 'GET', url: response.headers.location as string })
    expect(status.statusCode).toBe(200)
    expect(status.json()).toMatchObject({ id: body.id, type: 'report', state: 'queued', attempts: 0, queuedAt: body.queuedAt })
  })

  it('jobs api - a job accepted under the longest Idempotency-Key can be read back', async () => {
    const id = 'k'.repeat(128)
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': id },
      payload: { type: 'report', payload: {} },
    })
    expect(response.statusCode).toBe(202)
    const status = await ingress.app.inject({ method: 'GET', url: response.headers.location as string })
    expect(status.statusCode).toBe(200)
    expect(status.json()).toMatchObject({ id, state: 'queued' })
    // One character more is no job id, on either route.
    expect((await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}k` })).statusCode).toBe(400)
  })

  it('jobs api - a repeated Idempotency-Key returns the same id, says duplicate and enqueues nothing', async () => {
    const jsm = await jetstreamManager(ingress.nats.nc)
    const before = (await jsm.streams.info(env.QUEUE_STREAM!)).state.messages
    const submit = () =>
      ingress.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { ...json, 'idempotency-key': 'order-42' },
        payload: { type: 'charge', payload: { cents: 100 } },
      })
    const first = await submit()
    const second = await submit()
    expect(first.statusCode).toBe(202)
    expect(second.statusCode).toBe(202)
    expect(first.json()).toMatchObject({ id: 'order-42', duplicate: false })
    expect(second.json()).toMatchObject({ id: 'order-42', duplicate: true, queuedAt: first.json().queuedAt })
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(before + 1)
  })

  it('jobs api - an unknown job id is 404 problem+json', async () => {
    const response = await ingress.app.inject({ method: 'GET', url: '/v1/jobs/never-seen' })
    expect(response.statusCode).toBe(404)
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(response.json()).toMatchObject({ status: 404, title: 'Not Found' })
  })

  it('jobs api - GET /v1/queue reports capacity, depth, pending, inFlight and accepting', async () => {
    const response = await ingress.app.inject({ method: 'GET', url: '/v1/queue' })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    const jsm = await jetstreamManager(ingress.nats.nc)
    const depth = (await jsm.streams.info(env.QUEUE_STREAM!)).state.messages
    expect(body).toEqual({ capacity: 50, depth, pending: depth, inFlight: 0, scheduled: 0, accepting: true })
  })

  it('jobs api - health, readiness, metrics and the OpenAPI document are served', async () => {
    expect((await ingress.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect((await ingress.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' })
    const metrics = await ingress.app.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.body).toMatch(/sluice_ingress_jobs_accepted_total\{route="jobs"\} \d+/)
    expect(metrics.body).toMatch(/sluice_ingress_publish_duration_seconds_bucket/)
    expect(metrics.body).toMatch(/sluice_ingress_publishes_in_flight 0/)
    const openapi = (await ingress.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    expect(openapi.openapi).toMatch(/^3\./)
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/', '/v1/jobs', '/v1/jobs/{id}', '/v1/queue']))
    expect(openapi.paths['/v1/jobs'].post.responses).toHaveProperty('202')
  })

  it('jobs api - every answer carries a request id, and a sane client id is kept', async () => {
    const mine = await ingress.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-123' } })
    expect(mine.headers['x-request-id']).toBe('trace-123')
    const odd = await ingress.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\u0001' } })
    expect(odd.headers['x-request-id']).toMatch(/^[A-Za-z0-9]+$/)
  })
})
