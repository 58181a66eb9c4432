import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { freePort } from '../support/free-port.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const SECRET = 'test-callback-signing-secret'
const json = { 'content-type': 'application/json' }

/** One callback request the receiver got. */
interface Received {
  readonly at: number
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

// Job callbacks as deployed: a stock ingress and worker, each its own process, on a real nats-server, and a
// node:http receiver that answers each callback as its path says. Jobs take about a second (the built-in
// `user` job with JOB_DURATION_MS=1000). The checks of a callbackUrl at the door are
// test/ingress/callback-url-checks.test.ts.
describe('job callbacks', () => {
  let nats: NatsServerFixture
  let nc: NatsConnection
  let receiver: Server
  let base: string
  let closedBase: string
  let env: Env
  let callbackEnv: Env
  let ingress: AppProcess
  let worker: AppProcess
  // Requests by path; a request whose answer is held (`/hooks/hang/`) is in `held` until the test ends.
  const received = new Map<string, Received[]>()
  const held = new Set<ServerResponse>()

  beforeAll(async () => {
    nats = await startNatsServer()
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const path = request.url ?? ''
        const seen = received.get(path) ?? []
        seen.push({ at: Date.now(), path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
        received.set(path, seen)
        answer(path, seen.length, response)
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
    // Nothing listens there: connections are refused.
    closedBase = `http://127.0.0.1:${await freePort()}`
    callbackEnv = {
      JOB_CALLBACK_ALLOWED_URLS: `${base}/hooks/,${closedBase}/`,
      JOB_CALLBACK_SIGNING_SECRET: SECRET,
      JOB_CALLBACK_TIMEOUT_MS: '1000',
      JOB_CALLBACK_ATTEMPTS: '3',
      JOB_CALLBACK_RETRY_BACKOFF_MS: '200,400',
    }
    env = queueEnv(nats.url, { JOB_DURATION_MS: '1000', QUEUE_MAX_DELIVER: '2', QUEUE_RETRY_BACKOFF_MS: '300', WORKER_CONCURRENCY: '1', ...callbackEnv })
    nc = await connect({ servers: nats.url })
    ingress = await startApp('ingress', env)
    worker = await startApp('worker', env)
  }, 60_000)
  afterAll(async () => {
    for (const response of held) response.destroy()
    await worker?.stop()
    await ingress?.stop()
    receiver?.closeAllConnections()
    await new Promise((resolve) => receiver?.close(resolve))
    await nc?.close()
    await nats?.close()
  })

  // What the receiver answers to request number `count` on `path`.
  function answer(path: string, count: number, response: ServerResponse): void {
    if (path.startsWith('/hooks/ok/')) return void response.writeHead(204).end()
    if (path.startsWith('/hooks/flaky/')) return void response.writeHead(count <= 2 ? 503 : 200, json).end('{}')
    if (path.startsWith('/hooks/down/')) return void response.writeHead(503, json).end('{"title":"down for maintenance"}')
    if (path.startsWith('/hooks/gone/')) return void response.writeHead(410, json).end('{}')
    if (path.startsWith('/hooks/hang/')) return void held.add(response)
    response.writeHead(404).end()
  }

  async function submitted(body: Record<string, unknown>, at = ingress.baseUrl): Promise<string> {
    const response = await fetch(`${at}/v1/jobs`, { method: 'POST', headers: json, body: JSON.stringify(body) })
    expect(response.status, await response.clone().text()).toBe(202)
    return ((await response.json()) as { id: string }).id
  }
  const stateOf = async (id: string, at = ingress.baseUrl) => (await (await fetch(`${at}/v1/jobs/${id}`)).json()) as Record<string, unknown>
  const reaches = (id: string, states: readonly string[], at = ingress.baseUrl) =>
    eventually(`job ${id} to be ${states.join(' or ')}`, async () => {
      const status = await stateOf(id, at)
      return states.includes(String(status.state)) ? status : undefined
    })
  const requestsTo = (path: string, count: number) =>
    eventually(`${count} request(s) to ${path}`, () => ((received.get(path)?.length ?? 0) >= count ? received.get(path)! : undefined))
  const counter = async (app: AppProcess, name: string, outcome: string) => {
    const text = await (await fetch(`${app.baseUrl}/metrics`)).text()
    const line = text.split('\n').find((row) => row.startsWith(`${name}{outcome="${outcome}"}`))
    return line ? Number(line.split(' ')[1]) : 0
  }
  // The receiver recomputes the signature over the raw body, as docs/api.md tells receivers to.
  const expectSigned = (request: Received) => {
    const timestamp = String(request.headers['sluice-timestamp'])
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60)
    const expected = createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex')
    expect(request.headers['sluice-signature']).toBe(`v1=${expected}`)
  }

  it('job callbacks - a succeeded job calls its callback once, signed, with the state GET shows', async () => {
    const path = '/hooks/ok/order-1?token=not-logged'
    const id = await submitted({ type: 'user', payload: { user_id: 'ada' }, callbackUrl: `${base}${path}` })
    const status = await reaches(id, ['succeeded'])
    const [request] = await requestsTo(path, 1)
    expectSigned(request!)
    expect(JSON.parse(request!.body)).toEqual(status)
    expect(status).toMatchObject({ id, type: 'user', state: 'succeeded', attempts: 1 })
    expect(Date.parse(String(status.finishedAt)) - Date.parse(String(status.startedAt))).toBeGreaterThanOrEqual(1000)
    expect(request!.headers).toMatchObject({
      'content-type': 'application/json',
      'sluice-job-id': id,
      'sluice-job-type': 'user',
      'sluice-job-state': 'succeeded',
      'sluice-queued-at': status.queuedAt,
      'sluice-callback-attempt': '1',
    })
    expect(request!.headers['sluice-callback-id']).toMatch(/^[A-Za-z0-9]{22}$/)
    await worker.waitForLog(/"callbackUrl":"http:\/\/127\.0\.0\.1:\d+\/hooks\/ok\/order-1".*"msg":"job callback delivered"/)
    // The query may hold a token: logs show the URL without it.
    expect(worker.log()).not.toContain('not-logged')
    expect(await counter(worker, 'sluice_worker_callbacks_total', 'delivered')).toBeGreaterThanOrEqual(1)
    expect(received.get(path)).toHaveLength(1)
  })

  it('job callbacks - a job that goes dead calls back with its error, and again when it is redriven and ends again', async () => {
    const path = '/hooks/ok/dead-1'
    // No user_id: the handler throws on both attempts (QUEUE_MAX_DELIVER=2).
    const id = await submitted({ type: 'user', payload: {}, callbackUrl: `${base}${path}` })
    const status = await reaches(id, ['dead'])
    const [request] = await requestsTo(path, 1)
    expectSigned(request!)
    expect(JSON.parse(request!.body)).toEqual(status)
    expect(status).toMatchObject({ state: 'dead', attempts: 2, error: 'payload.user_id must be a string' })
    expect(request!.headers['sluice-job-state']).toBe('dead')
    expect(received.get(path)).toHaveLength(1)

    // The dead letter keeps the callback: the redriven job (it fails again) reports its own end.
    expect((await fetch(`${ingress.baseUrl}/v1/dead-letters/${id}/redrive`, { method: 'POST' })).status).toBe(202)
    const [, again] = await requestsTo(path, 2)
    expectSigned(again!)
    const redriven = JSON.parse(again!.body) as Record<string, unknown>
    expect(redriven).toMatchObject({ id, state: 'dead', attempts: 2 })
    expect(Date.parse(String(redriven.queuedAt))).toBeGreaterThan(Date.parse(String(status.queuedAt)))
    expect(redriven).toEqual(await stateOf(id))
  })

  it('job callbacks - a receiver answering 503 twice then 200 is retried with backoff and gets the callback once', async () => {
    const path = '/hooks/flaky/1'
    const id = await submitted({ type: 'user', payload: { user_id: 'grace' }, callbackUrl: `${base}${path}` })
    await reaches(id, ['succeeded'])
    const requests = await requestsTo(path, 3)
    // One callback: the same id and body on every attempt, each signed, attempts numbered.
    expect(new Set(requests.map((request) => request.headers['sluice-callback-id'])).size).toBe(1)
    expect(new Set(requests.map((request) => request.body)).size).toBe(1)
    expect(requests.map((request) => request.headers['sluice-callback-attempt'])).toEqual(['1', '2', '3'])
    for (const request of requests) expectSigned(request)
    // JOB_CALLBACK_RETRY_BACKOFF_MS=200,400.
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(190)
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(390)
    await worker.waitForLog(/"attempt":3,"status":200,"state":"succeeded","msg":"job callback delivered"/)
    expect(received.get(path)).toHaveLength(3)
  })

  it('job callbacks - a receiver that stays down gets JOB_CALLBACK_ATTEMPTS requests, then the callback is given up; the job is unaffected', async () => {
    const failedBefore = await counter(worker, 'sluice_worker_callbacks_total', 'failed')
    const path = '/hooks/down/1'
    const down = await submitted({ type: 'user', payload: { user_id: 'down' }, callbackUrl: `${base}${path}` })
    const refused = await submitted({ type: 'user', payload: { user_id: 'refused' }, callbackUrl: `${closedBase}/callback` })
    await requestsTo(path, 3)
    await eventually('both callbacks to be given up', async () =>
      (await counter(worker, 'sluice_worker_callbacks_total', 'failed')) >= failedBefore + 2 ? true : undefined,
    )
    await worker.waitForLog(
      /"callbackUrl":"http:\/\/127\.0\.0\.1:\d+\/callback","attempt":3,"error":"ECONNREFUSED","msg":"job callback given up after JOB_CALLBACK_ATTEMPTS"/,
    )
    await worker.waitForLog(
      /"callbackUrl":"http:\/\/127\.0\.0\.1:\d+\/hooks\/down\/1","attempt":3,"error":"HTTP 503","msg":"job callback given up after JOB_CALLBACK_ATTEMPTS"/,
    )
    expect(received.get(path)).toHaveLength(3)
    for (const id of [down, refused]) expect(await stateOf(id)).toMatchObject({ state: 'succeeded', attempts: 1 })
  })

  it('job callbacks - a receiver that refuses the callback (410) is not retried', async () => {
    const path = '/hooks/gone/1'
    await submitted({ type: 'user', payload: { user_id: 'gone' }, callbackUrl: `${base}${path}` })
    await requestsTo(path, 1)
    await worker.waitForLog(/"attempt":1,"error":"HTTP 410","msg":"job callback given up: the receiver refused it"/)
    expect(received.get(path)).toHaveLength(1)
  })

  it("job callbacks - a callback that gets no answer holds neither the job's acknowledgement nor the worker's one slot", async () => {
    const path = '/hooks/hang/1'
    const slow = await submitted({ type: 'user', payload: { user_id: 'slow' }, callbackUrl: `${base}${path}` })
    const next = await submitted({ type: 'user', payload: { user_id: 'next' } })
    // WORKER_CONCURRENCY=1: the next job runs only once the first one's slot is free.
    await reaches(next, ['succeeded'])
    expect(await stateOf(slow)).toMatchObject({ state: 'succeeded' })
    const jsm = await jetstreamManager(nc)
    const consumer = await jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)
    expect(consumer.num_ack_pending).toBe(0)
    // The next job (a second's work) was done before the callback's third request went out (each of the
    // first two waited JOB_CALLBACK_TIMEOUT_MS for an answer that never came, then 200 and 400 ms).
    const requests = await requestsTo(path, 3)
    expect(Date.parse(String((await stateOf(next)).finishedAt))).toBeLessThan(requests[2]!.at)
  })

  it('job callbacks - past JOB_CALLBACK_MAX_PENDING a callback is dropped and counted; on SIGTERM a held one is dropped within the drain', async () => {
    // A pair of its own: one callback held at most, and a drain of 2 s.
    const bounded = queueEnv(nats.url, {
      ...callbackEnv,
      JOB_DURATION_MS: '1000',
      JOB_CALLBACK_MAX_PENDING: '1',
      JOB_CALLBACK_TIMEOUT_MS: '60000',
      WORKER_DRAIN_MS: '2000',
    })
    const boundedIngress = await startApp('ingress', bounded)
    const boundedWorker = await startApp('worker', bounded)
    try {
      const held = await submitted({ type: 'user', payload: { user_id: 'held' }, callbackUrl: `${base}/hooks/hang/bounded-1` }, boundedIngress.baseUrl)
      await requestsTo('/hooks/hang/bounded-1', 1)
      const over = await submitted({ type: 'user', payload: { user_id: 'over' }, callbackUrl: `${base}/hooks/ok/bounded-2` }, boundedIngress.baseUrl)
      await reaches(over, ['succeeded'], boundedIngress.baseUrl)
      await boundedWorker.waitForLog(/"jobId":"[^"]+","callbackUrl":"[^"]+\/hooks\/ok\/bounded-2","pending":1,"closing":false,"msg":"job callback dropped/)
      expect(await counter(boundedWorker, 'sluice_worker_callbacks_total', 'dropped')).toBe(1)
      expect(received.get('/hooks/ok/bounded-2')).toBeUndefined()

      const stopping = Date.now()
      boundedWorker.signal('SIGTERM')
      const exit = await boundedWorker.exited
      // WORKER_DRAIN_MS (the jobs are done, so the held callback gets all of it), well within its exit bound.
      expect(exit.code, boundedWorker.logTail(10)).toBe(0)
      expect(Date.now() - stopping).toBeLessThan(2000 + 5000)
      expect(boundedWorker.log()).toMatch(
        /"callbackUrl":"[^"]+\/hooks\/hang\/bounded-1","attempts":1,"msg":"job callback dropped: the process is shutting down"/,
      )
      for (const id of [held, over]) expect(await stateOf(id, boundedIngress.baseUrl)).toMatchObject({ state: 'succeeded' })
    } finally {
      await boundedWorker.stop()
      await boundedIngress.stop()
    }
  })

  it('job callbacks - a cancel calls back with `cancelled`: from the ingress, for a queued job and a running one, once', async () => {
    // A queue of its own with no worker, so the job stays queued.
    const queuedIngress = await startApp('ingress', queueEnv(nats.url, callbackEnv))
    try {
      const queuedPath = '/hooks/ok/cancel-queued'
      const queued = await submitted({ type: 'user', payload: { user_id: 'q' }, callbackUrl: `${base}${queuedPath}` }, queuedIngress.baseUrl)
      const cancel = await fetch(`${queuedIngress.baseUrl}/v1/jobs/${queued}`, { method: 'DELETE' })
      expect(cancel.status).toBe(200)
      const cancelled = await cancel.json()
      const [request] = await requestsTo(queuedPath, 1)
      expectSigned(request!)
      expect(JSON.parse(request!.body)).toEqual(cancelled)
      expect(cancelled).toMatchObject({ id: queued, state: 'cancelled', attempts: 0 })
      expect(request!.headers['sluice-job-state']).toBe('cancelled')
      // Cancelling again is harmless and calls back no more.
      expect((await fetch(`${queuedIngress.baseUrl}/v1/jobs/${queued}`, { method: 'DELETE' })).status).toBe(200)
      await queuedIngress.waitForLog(/"msg":"job callback delivered"/)
      expect(await counter(queuedIngress, 'sluice_ingress_callbacks_total', 'delivered')).toBe(1)
    } finally {
      await queuedIngress.stop()
    }

    const runningPath = '/hooks/ok/cancel-running'
    const running = await submitted({ type: 'user', payload: { user_id: 'r' }, callbackUrl: `${base}${runningPath}` })
    await reaches(running, ['running'])
    const cancel = await fetch(`${ingress.baseUrl}/v1/jobs/${running}`, { method: 'DELETE' })
    expect(cancel.status).toBe(200)
    const [request] = await requestsTo(runningPath, 1)
    expect(JSON.parse(request!.body)).toMatchObject({ id: running, state: 'cancelled', attempts: 1 })
    // The worker ends the aborted attempt and records nothing, so it sends no callback of its own.
    await eventually('the worker to end the cancelled attempt', async () => {
      const text = await (await fetch(`${worker.baseUrl}/metrics`)).text()
      return /sluice_worker_jobs_total\{type="user",outcome="cancelled"\} 1/.test(text) ? true : undefined
    })
    expect(await stateOf(running)).toMatchObject({ state: 'cancelled' })
    expect(received.get(runningPath)).toHaveLength(1)
  })
})
