import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { QueueFullError, QueueUnavailableError, TooManyInflightError } from '@sluice/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { doorShedding, type DoorSheddingOptions } from '../../apps/ingress/src/door-shedding.ts'
import { createIngressMetrics } from '../../apps/ingress/src/ingress-metrics.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

// The door answers over a real socket, before Fastify: `app.inject` never reaches it, so these tests
// speak HTTP to a listening server.
describe('door shedding', () => {
  let server: Server | undefined
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve))
    server = undefined
  })

  // A server whose requests the door passes on are answered 299 by "the framework".
  async function listen(options: Partial<DoorSheddingOptions> & Pick<DoorSheddingOptions, 'refusal'>): Promise<{ url: string; metrics: DoorSheddingOptions['metrics'] }> {
    const metrics = createIngressMetrics(() => 0)
    const shed = doorShedding({ metrics, retryAfterSeconds: 4, seedOpen: true, jobsOpen: true, ...options })
    server = createServer((request, response) => {
      if (!shed(request, response)) response.writeHead(299).end('framework')
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, metrics }
  }

  it('door shedding - a full queue answers the seed route with its text, Retry-After, security headers and the request id', async () => {
    const { url, metrics } = await listen({ refusal: () => new QueueFullError('maximum messages exceeded') })
    for (const method of ['GET', 'POST']) {
      const response = await fetch(`${url}/?user_id=7`, { method, headers: { 'x-request-id': 'trace-1' } })
      expect(response.status).toBe(503)
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect(response.headers.get('retry-after')).toBe('4')
      expect(response.headers.get('x-request-id')).toBe('trace-1')
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
      expect(response.headers.get('content-length')).toBe('40')
      expect(await response.text()).toBe('our internal queue is full, try it later')
    }
    expect((await metrics.rejected.get()).values).toEqual([expect.objectContaining({ labels: { reason: 'queue_full' }, value: 2 })])
  })

  it('door shedding - other refusals and the JSON API get problem+json with the route\'s problem type', async () => {
    const refusals: Error[] = [new QueueUnavailableError('the queue server is not connected'), new TooManyInflightError(8)]
    let next = 0
    const { url } = await listen({ refusal: () => refusals[next] })
    for (const [i, path] of [[0, '/?user_id=7'], [1, '/v1/jobs']] as const) {
      next = i
      const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'bad id with spaces' }, body: '{"type":"a","payload":1}' })
      expect(response.status).toBe(503)
      expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8')
      expect(response.headers.get('retry-after')).toBe('4')
      // An odd request id is replaced, not echoed.
      expect(response.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9]{22}$/)
      expect(await response.json()).toEqual({
        type: i === 0 ? 'urn:sluice:problem:queue-unavailable' : 'urn:sluice:problem:ingress-busy',
        title: i === 0 ? 'Queue Unavailable' : 'Ingress Busy',
        status: 503,
        detail: refusals[i]!.message,
        instance: path,
      })
    }
  })

  it('door shedding - passes on what the routes must check first: a missing user_id, keyed or limited routes, other paths, no refusal', async () => {
    const full = () => new QueueFullError('full')
    const open = await listen({ refusal: full })
    for (const [method, path] of [['GET', '/'], ['GET', '/?user_id='], ['GET', '/?other=1'], ['GET', '/v1/jobs'], ['POST', '/v1/jobs/x'], ['GET', '/v1/queue'], ['PUT', '/?user_id=1']]) {
      expect((await fetch(`${open.url}${path}`, { method })).status, `${method} ${path}`).toBe(299)
    }
    await new Promise((resolve) => server?.close(resolve))
    const keyed = await listen({ refusal: full, seedOpen: false, jobsOpen: false })
    expect((await fetch(`${keyed.url}/?user_id=1`)).status).toBe(299)
    expect((await fetch(`${keyed.url}/v1/jobs`, { method: 'POST', body: '{}' })).status).toBe(299)
    await new Promise((resolve) => server?.close(resolve))
    const accepting = await listen({ refusal: () => undefined })
    expect((await fetch(`${accepting.url}/?user_id=1`)).status).toBe(299)
  })
})

describe('door shedding through the ingress', () => {
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

  it('door shedding through the ingress - a flood on a full queue: every answer is a 503 of the route\'s kind, each one counted', async () => {
    expect((await fetch(`${baseUrl}/?user_id=fill`)).status).toBe(200)
    // The first refusal comes from the server; those right after it (within FULL_HOLD_MS) from the door.
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 2 === 0
          ? fetch(`${baseUrl}/?user_id=${i}`)
          : fetch(`${baseUrl}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"noop","payload":{}}' }),
      ),
    )
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(503)
      expect(answer.headers.get('retry-after')).toBe('2')
      expect(answer.headers.get('x-request-id')).toBeTruthy()
      if (i % 2 === 0) expect(await answer.text()).toBe('our internal queue is full, try it later')
      else expect((await answer.json()) as { type: string }).toMatchObject({ type: 'urn:sluice:problem:queue-full', status: 503 })
    }
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text()
    expect(metrics).toContain('sluice_ingress_jobs_rejected_total{reason="queue_full"} 60')
  })
})
