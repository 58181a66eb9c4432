import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { settledJob, submittedJob } from '../support/job-api.ts'
import { freePort } from '../support/free-port.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const SECRET = 'test-signing-secret'

/** One request the endpoint received. */
interface Received {
  readonly at: number
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

// HTTP push as deployed: a stock ingress and worker, each its own process, a real nats-server, and a
// node:http endpoint that answers each job as its payload's `mode` says.
describe('http push', () => {
  let server: NatsServerFixture
  let endpoint: Server
  let ingress: AppProcess
  let worker: AppProcess
  let env: Env
  const received = new Map<string, Received[]>()
  let inFlight = 0
  let mostInFlight = 0

  beforeAll(async () => {
    server = await startNatsServer()
    endpoint = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const id = String(request.headers['sluice-job-id'])
        const seen = received.get(id) ?? []
        seen.push({ at: Date.now(), path: request.url ?? '', headers: request.headers, body })
        received.set(id, seen)
        answer(JSON.parse(body) as { mode: string }, seen.length, response)
      })
    })
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`
    // Nothing listens there: connections are refused.
    const closedPort = await freePort()
    env = queueEnv(server.url, {
      WORKER_HTTP_URL: `${base}/push?token=not-shown`,
      WORKER_HTTP_TYPE_URLS: `slow=${base}/slow,unreachable=http://127.0.0.1:${closedPort}/gone`,
      WORKER_HTTP_TIMEOUT_MS: '500',
      WORKER_HTTP_CONCURRENCY: '2',
      WORKER_HTTP_SIGNING_SECRET: SECRET,
      WORKER_CONCURRENCY: '8',
      QUEUE_MAX_DELIVER: '3',
      JOB_RESULT_MAX_BYTES: '1024',
      QUEUE_RETRY_BACKOFF_MS: '50',
    })
    ingress = await startApp('ingress', env)
    worker = await startApp('worker', env)
  }, 60_000)
  afterAll(async () => {
    await worker?.stop()
    await ingress?.stop()
    endpoint?.closeAllConnections()
    await new Promise((resolve) => endpoint?.close(resolve))
    await server?.close()
  })

  // What the endpoint does with attempt `attempt` of a job, by the job's `mode`.
  function answer(payload: { mode: string }, attempt: number, response: ServerResponse): unknown {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
    switch (payload.mode) {
      case 'ok':
        return json(200, { echoed: payload })
      case 'big':
        return json(200, { text: 'x'.repeat(2000) })
      case 'no-content':
        return void response.writeHead(204).end()
      case 'rate-limited-once':
        return attempt === 1 ? json(429, { title: 'slow down' }, { 'retry-after': '1' }) : json(200, { attempt })
      case 'fails-once':
        return attempt === 1 ? json(500, { title: 'boom' }) : json(200, { attempt })
      case 'hangs-once':
        // The first attempt never gets an answer; the worker's deadline ends it.
        return attempt === 1 ? undefined : json(200, { attempt })
      case 'not-found':
        return void response.writeHead(404, { 'content-type': 'text/plain' }).end('no such\nthing here')
      case 'slow': {
        inFlight++
        mostInFlight = Math.max(mostInFlight, inFlight)
        // Its work takes a while, so that requests would pile up without the bound.
        setTimeout(() => {
          inFlight--
          json(200, {})
        }, 100)
        return
      }
      default:
        return json(400, { title: `unknown mode ${payload.mode}` })
    }
  }

  const submit = (type: string, payload: unknown) => submittedJob(ingress.baseUrl, type, payload)
  const settled = (id: string) => settledJob(ingress.baseUrl, id)

  it('http push - a job is POSTed with its payload and headers, signed, and the 2xx JSON body is its result', async () => {
    const id = await submit('resize', { mode: 'ok', size: 3 })
    const status = await settled(id)
    expect(status).toMatchObject({ state: 'succeeded', attempts: 1, result: { echoed: { mode: 'ok', size: 3 } } })
    const [request] = received.get(id)!
    expect(request!.path).toBe('/push?token=not-shown')
    expect(JSON.parse(request!.body)).toEqual({ mode: 'ok', size: 3 })
    expect(request!.headers).toMatchObject({
      'content-type': 'application/json',
      'sluice-job-id': id,
      'sluice-job-type': 'resize',
      'sluice-attempt': '1',
      'sluice-queued-at': status.queuedAt,
    })
    const timestamp = String(request!.headers['sluice-timestamp'])
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60)
    const expected = createHmac('sha256', SECRET).update(`${timestamp}.${request!.body}`).digest('hex')
    expect(request!.headers['sluice-signature']).toBe(`v1=${expected}`)
  })

  it('http push - a 2xx without a JSON body succeeds with no result', async () => {
    const status = await settled(await submit('resize', { mode: 'no-content' }))
    expect(status.state).toBe('succeeded')
    expect(status).not.toHaveProperty('result')
  })

  it('http push - a 2xx body over JOB_RESULT_MAX_BYTES fails the attempt, is never cut, and the job ends dead', async () => {
    const status = await settled(await submit('resize', { mode: 'big' }))
    expect(status).toMatchObject({
      state: 'dead',
      attempts: 3,
      error: `the 200 answer of ${new URL(env.WORKER_HTTP_URL!).origin}/push is larger than JOB_RESULT_MAX_BYTES (1024 bytes)`,
    })
    expect(status).not.toHaveProperty('result')
  })

  it('http push - a 429 with Retry-After is retried no sooner than it says', async () => {
    const id = await submit('resize', { mode: 'rate-limited-once' })
    expect(await settled(id)).toMatchObject({ state: 'succeeded', attempts: 2, result: { attempt: 2 } })
    const [first, second] = received.get(id)!
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000)
    expect(second!.headers['sluice-attempt']).toBe('2')
  })

  it('http push - another 4xx dead-letters the job at once with the status and an excerpt of the body', async () => {
    const id = await submit('resize', { mode: 'not-found' })
    expect(await settled(id)).toMatchObject({
      state: 'dead',
      attempts: 1,
      error: `HTTP 404 from ${new URL(env.WORKER_HTTP_URL!).origin}/push: no such thing here`,
    })
    expect(received.get(id)).toHaveLength(1)
  })

  it('http push - a 5xx is retried with backoff', async () => {
    const id = await submit('resize', { mode: 'fails-once' })
    expect(await settled(id)).toMatchObject({ state: 'succeeded', attempts: 2, result: { attempt: 2 } })
  })

  it('http push - no answer within WORKER_HTTP_TIMEOUT_MS fails the attempt, which is retried', async () => {
    const id = await submit('resize', { mode: 'hangs-once' })
    expect(await settled(id)).toMatchObject({ state: 'succeeded', attempts: 2 })
  })

  it('http push - a refused connection is retried, and the job is dead after the last attempt', async () => {
    const id = await submit('unreachable', { mode: 'ok' })
    const status = await settled(id)
    expect(status).toMatchObject({ state: 'dead', attempts: 3 })
    expect(status.error).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/gone failed: ECONNREFUSED$/)
  })

  it('http push - requests to one endpoint stay within WORKER_HTTP_CONCURRENCY, though the worker runs more jobs', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => submit('slow', { mode: 'slow' })))
    for (const id of ids) expect((await settled(id)).state).toBe('succeeded')
    expect(ids.every((id) => received.get(id)![0]!.path === '/slow')).toBe(true)
    expect(mostInFlight).toBe(2)
  })
})
