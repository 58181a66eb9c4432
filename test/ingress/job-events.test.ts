import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { gatedJobs } from '../support/gated-jobs.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

interface ServerEvent {
  readonly event: string
  readonly data: Record<string, unknown>
}

/** An open event stream: the events so far, and whether the server ended it. */
interface EventStream {
  readonly events: ServerEvent[]
  ended: boolean
  abort(): void
}

// GET /v1/jobs/<id>/events over real HTTP (the ingress listening on a port), with a worker and nats-server.
describe('job events', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker
  let env: Env
  let base: string
  const { handlers, release } = gatedJobs()

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, { INGRESS_WATCH_MAX_CONNECTIONS: '2', INGRESS_WATCH_MAX_MS: '1500' })
    ingress = await startIngress(env)
    await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(ingress.app.server.address() as AddressInfo).port}`
    worker = await startWorker(env, handlers)
  })
  afterAll(async () => {
    for (const done of release.values()) done()
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  async function submit(id: string): Promise<void> {
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': id },
      payload: { type: 'gated', payload: {} },
    })
    expect(response.statusCode).toBe(202)
  }

  // Opens the stream and reads it in the background; rejects when the answer is not a stream.
  async function open(id: string): Promise<EventStream> {
    const controller = new AbortController()
    const response = await fetch(`${base}/v1/jobs/${id}/events`, { signal: controller.signal })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(response.headers.get('x-request-id')).toBeTruthy()
    const stream: EventStream = { events: [], ended: false, abort: () => controller.abort() }
    void (async () => {
      const decoder = new TextDecoder()
      let buffered = ''
      try {
        for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true })
          let at = buffered.indexOf('\n\n')
          while (at !== -1) {
            const block = buffered.slice(0, at)
            buffered = buffered.slice(at + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (event && data) stream.events.push({ event, data: JSON.parse(data) })
            at = buffered.indexOf('\n\n')
          }
        }
        stream.ended = true
      } catch {
        // Aborted by the test.
      }
    })()
    return stream
  }

  const states = (stream: EventStream) => stream.events.filter((e) => e.event === 'state').map((e) => e.data.state)
  const ended = (stream: EventStream) => eventually('the stream to end', () => (stream.ended ? true : undefined), 10_000)

  it('job events - an unknown id is 404 and an invalid one 400, as problem+json', async () => {
    const unknown = await fetch(`${base}/v1/jobs/never-seen/events`)
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    const invalid = await fetch(`${base}/v1/jobs/not%20an%20id/events`)
    expect(invalid.status).toBe(400)
    expect(invalid.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    // A HEAD says whether there is a job to follow, without following it.
    await submit('head-1')
    const head = await fetch(`${base}/v1/jobs/head-1/events`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect((await fetch(`${base}/v1/jobs/never-seen/events`, { method: 'HEAD' })).status).toBe(404)
    await eventually('the job to start', () => release.get('head-1'), 10_000)
    release.get('head-1')!()
  })

  it('job events - a stream follows a job through running to succeeded, then ends', async () => {
    await submit('follow-1')
    const stream = await open('follow-1')
    await eventually('the running state', () => (states(stream).includes('running') ? true : undefined), 10_000)
    release.get('follow-1')!()
    await ended(stream)
    const seen = states(stream)
    expect(seen.at(-1)).toBe('succeeded')
    expect(stream.events.at(-1)?.data).toMatchObject({ id: 'follow-1', state: 'succeeded', result: { released: true } })
    // Only forward, each state once.
    expect(seen).toEqual([...new Set(seen)])
    expect(['queued', 'running']).toContain(seen[0])
  })

  it('job events - a scheduled job starts as scheduled with its runAt; cancelled, it ends there', async () => {
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': 'scheduled-1' },
      payload: { type: 'gated', payload: {}, delayMs: 60_000 },
    })
    const { runAt } = response.json<{ runAt: string }>()
    const stream = await open('scheduled-1')
    await eventually('the first state', () => stream.events[0])
    expect(stream.events[0]).toMatchObject({ event: 'state', data: { id: 'scheduled-1', state: 'scheduled', runAt, attempts: 0 } })
    expect((await ingress.app.inject({ method: 'DELETE', url: '/v1/jobs/scheduled-1' })).statusCode).toBe(200)
    await ended(stream)
    expect(states(stream)).toEqual(['scheduled', 'cancelled'])
    expect(stream.events.at(-1)?.data).toMatchObject({ state: 'cancelled', runAt })
  })

  it('job events - a cancel ends the stream with the cancelled state', async () => {
    await submit('cancel-1')
    const stream = await open('cancel-1')
    await eventually('the running state', () => (states(stream).includes('running') ? true : undefined), 10_000)
    expect((await ingress.app.inject({ method: 'DELETE', url: '/v1/jobs/cancel-1' })).statusCode).toBe(200)
    await ended(stream)
    expect(states(stream).at(-1)).toBe('cancelled')
  })

  it('job events - a stream ends with a timeout event at INGRESS_WATCH_MAX_MS', async () => {
    await submit('slow-1')
    const started = Date.now()
    const stream = await open('slow-1')
    await ended(stream)
    expect(stream.events.at(-1)?.event).toBe('timeout')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
    release.get('slow-1')?.()
  })

  it('job events - past INGRESS_WATCH_MAX_CONNECTIONS open streams a new one is 503 ingress-busy with Retry-After, until one closes', async () => {
    await submit('many-1')
    await submit('many-2')
    const first = await open('many-1')
    const second = await open('many-2')
    await eventually('both streams to start', () => (first.events.length > 0 && second.events.length > 0 ? true : undefined))
    const refused = await fetch(`${base}/v1/jobs/many-1/events`)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(refused.headers.get('retry-after')).toBeTruthy()
    expect(await refused.json()).toMatchObject({ type: 'urn:sluice:problem:ingress-busy' })
    first.abort()
    const again = await eventually('a stream to open again', async () => {
      const response = await fetch(`${base}/v1/jobs/many-1/events`)
      if (response.status === 200) return response
      await response.body?.cancel()
      return undefined
    })
    await again.body?.cancel()
    second.abort()
    release.get('many-1')?.()
    release.get('many-2')?.()
  })

  it('job events - closing the ingress ends open streams with a closing event', async () => {
    await submit('closing-1')
    const stream = await open('closing-1')
    await eventually('the stream to start', () => (stream.events.length > 0 ? true : undefined))
    await ingress.app.close()
    await ended(stream)
    expect(stream.events.at(-1)?.event).toBe('closing')
    release.get('closing-1')?.()
  })
})
