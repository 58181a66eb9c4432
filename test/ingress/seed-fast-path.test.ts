import { createServer, type Server } from 'node:http'
import { connect as connectTcp, type AddressInfo } from 'node:net'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { seedFastPath } from '../../apps/ingress/src/seed-fast-path.ts'
import { eventually } from '../support/eventually.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

// The fast path answers over a real socket, before Fastify: `app.inject` never reaches it, so these
// tests speak HTTP to listening servers.

/** The answer's headers that must match between the two paths: all but the per-request ones. */
function stableHeaders(response: Response): Record<string, string> {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    if (name !== 'date' && name !== 'x-request-id') headers[name] = value
  })
  return headers
}

async function acceptedCount(baseUrl: string): Promise<number> {
  const metrics = await (await fetch(`${baseUrl}/metrics`)).text()
  return Number(/sluice_ingress_jobs_accepted_total\{route="seed"\} (\d+)/.exec(metrics)?.[1] ?? 0)
}

describe('seed fast path', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress
  let jsm: JetStreamManager
  let stream: string
  let server: Server | undefined

  beforeAll(async () => {
    nats = await startNatsServer()
    const env = queueEnv(nats.url)
    stream = env.QUEUE_STREAM!
    ingress = await startIngress(env)
    jsm = await jetstreamManager(ingress.nats.nc)
  })
  afterEach(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve))
    server = undefined
    await jsm.streams.purge(stream)
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  // The fast path alone on a server of its own, with the ingress's real queue services behind it: what it
  // passes on is answered 299 by "the framework", so a test sees which path took a request.
  async function listenFastPathAlone(enabled = () => true): Promise<string> {
    const fast = seedFastPath({ services: ingress.app.queue, logger: pino({ level: 'silent' }), enabled })
    server = createServer((request, response) => {
      if (!fast(request, response)) response.writeHead(299).end('framework')
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  it('seed fast path - takes a plain GET /?user_id=<id> and stores the job as the route does', async () => {
    const url = await listenFastPathAlone()
    const response = await fetch(`${url}/?user_id=Ab0._~-`, { headers: { 'x-request-id': 'trace-7' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toBe('trace-7')
    expect(await response.text()).toBe('queuing user process: Ab0._~-')
    const stored = await jsm.streams.getMessage(stream, { last_by_subj: `${ingress.app.queue.config.queue.subjectPrefix}.>` })
    expect(stored?.header.get('Sluice-Job-Type')).toBe('user')
    expect(stored?.json()).toEqual({ user_id: 'Ab0._~-' })
  })

  it('seed fast path - passes on every other request shape, and everything while disabled', async () => {
    const url = await listenFastPathAlone()
    const tooLong = 'x'.repeat(257)
    const passedOn = [
      ['POST', '/?user_id=1'],
      ['HEAD', '/?user_id=1'],
      ['GET', '/'],
      ['GET', '/?user_id='],
      ['GET', '/?user_id=%61'],
      ['GET', '/?user_id=a+b'],
      ['GET', '/?user_id=1&user_id=2'],
      ['GET', '/?x=1&user_id=1'],
      ['GET', `/?user_id=${tooLong}`],
      ['GET', '/v1/jobs?user_id=1'],
    ]
    for (const [method, path] of passedOn) expect((await fetch(`${url}${path}`, { method })).status, `${method} ${path}`).toBe(299)
    expect((await fetch(`${url}/?user_id=${'x'.repeat(256)}`)).status).toBe(200)
    await new Promise((resolve) => server?.close(resolve))
    const disabled = await listenFastPathAlone(() => false)
    expect((await fetch(`${disabled}/?user_id=1`)).status).toBe(299)
  })

  it('seed fast path - through the ingress, its answer equals the route\'s answer header for header', async () => {
    const baseUrl = await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const before = await acceptedCount(baseUrl)
      // A percent-encoded id takes the framework's route; the plain one takes the fast path.
      const [fast, routed] = await Promise.all([fetch(`${baseUrl}/?user_id=abc`), fetch(`${baseUrl}/?user_id=%61bc`)])
      expect(fast.status).toBe(200)
      expect(routed.status).toBe(200)
      expect(stableHeaders(fast)).toEqual(stableHeaders(routed))
      expect(fast.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9]{22}$/)
      expect(await fast.text()).toBe(await routed.text())
      expect((await jsm.streams.info(stream)).state.messages).toBe(2)
      expect(await acceptedCount(baseUrl)).toBe(before + 2)

      // A client that hangs up before its answer: the job is stored all the same and the ingress carries on.
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
      await eventually('the abandoned jobs to be stored', async () => ((await jsm.streams.info(stream)).state.messages === 22 ? true : undefined))
      expect((await fetch(`${baseUrl}/?user_id=after`)).status).toBe(200)
      expect(await acceptedCount(baseUrl)).toBe(before + 23)

      // While draining, answers must close their connection: the framework's hook does that, so it serves.
      ingress.startDraining()
      const draining = await fetch(`${baseUrl}/?user_id=late`)
      expect(draining.status).toBe(200)
      expect(draining.headers.get('connection')).toBe('close')
    } finally {
      await ingress.app.close()
    }
  })
})

describe('seed fast path on a full queue', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress

  beforeAll(async () => {
    nats = await startNatsServer()
    ingress = await startIngress(queueEnv(nats.url, { QUEUE_MAX_MESSAGES: '1', INGRESS_RETRY_AFTER_SECONDS: '3' }))
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  it('seed fast path on a full queue - the server\'s refusal is the seed\'s 503 with Retry-After, counted once', async () => {
    const fast = seedFastPath({ services: ingress.app.queue, logger: pino({ level: 'silent' }), enabled: () => true })
    const server = createServer((request, response) => {
      if (!fast(request, response)) response.writeHead(299).end('framework')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      expect((await fetch(`${url}/?user_id=fill`)).status).toBe(200)
      // The refusal comes from the server (no refusal is known yet), through the fast path's own publish.
      const refused = await fetch(`${url}/?user_id=over`)
      expect(refused.status).toBe(503)
      expect(refused.headers.get('retry-after')).toBe('3')
      expect(refused.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect(refused.headers.get('x-content-type-options')).toBe('nosniff')
      expect(await refused.text()).toBe('our internal queue is full, try it later')
      const rejected = (await ingress.app.queue.metrics.rejected.get()).values
      expect(rejected).toEqual([expect.objectContaining({ labels: { reason: 'queue_full' }, value: 1 })])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
