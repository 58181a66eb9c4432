import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { headers } from '@nats-io/nats-core'
import type { JobHandler } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

describe('dead letters', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker
  // The "bug" the operator fixes before redriving.
  let broken = true
  const handlers = new Map<string, JobHandler>([
    [
      'report',
      async () => {
        if (broken) throw new Error('report service is down')
      },
    ],
  ])

  beforeAll(async () => {
    server = await startNatsServer()
    const env = queueEnv(server.url, { QUEUE_MAX_DELIVER: '2', QUEUE_RETRY_BACKOFF_MS: '10', INGRESS_REDRIVE_RATE_PER_SECOND: '200' })
    ingress = await startIngress(env)
    worker = await startWorker(env, handlers)
  })
  afterAll(async () => {
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  function inject(method: 'GET' | 'POST', url: string, payload?: unknown) {
    return ingress.app.inject({ method, url, headers: payload === undefined ? {} : json, ...(payload === undefined ? {} : { payload: payload as object }) })
  }
  async function stateOf(id: string): Promise<string> {
    return (await inject('GET', `/v1/jobs/${id}`)).json().state
  }
  async function until(id: string, state: string): Promise<void> {
    await eventually(`${id} to be ${state}`, async () => ((await stateOf(id)) === state ? true : undefined))
  }
  async function submit(id: string): Promise<void> {
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': id },
      payload: { type: 'report', payload: { id } },
    })
    expect(response.statusCode).toBe(202)
  }

  it('dead letters - failed jobs are listed with their error, a page at a time', async () => {
    // One after the other: the order they die in is the order they are listed in.
    for (const id of ['dl-1', 'dl-2', 'dl-3']) {
      await submit(id)
      await until(id, 'dead')
    }
    const first = (await inject('GET', '/v1/dead-letters?limit=2')).json()
    expect(first.items.map((item: { id: string }) => item.id)).toEqual(['dl-1', 'dl-2'])
    expect(first.items[0]).toMatchObject({ type: 'report', error: 'report service is down', attempts: 2 })
    const second = (await inject('GET', `/v1/dead-letters?limit=2&after=${first.next}`)).json()
    expect(second.items.map((item: { id: string }) => item.id)).toEqual(['dl-3'])
    expect(second.next).toBeNull()
    expect((await inject('GET', '/v1/dead-letters?limit=500')).statusCode).toBe(400)
  })

  it('dead letters - a job redriven before the fix fails again and is filed again, not lost', async () => {
    expect((await inject('POST', '/v1/dead-letters/dl-1/redrive')).statusCode).toBe(202)
    await eventually('dl-1 to die again', async () => {
      const items = (await inject('GET', '/v1/dead-letters?limit=100')).json().items as { id: string }[]
      return items.filter((item) => item.id === 'dl-1').length === 1 && (await stateOf('dl-1')) === 'dead' ? true : undefined
    })
  })

  it('dead letters - after the fix, one redrive and a bulk redrive run every job, and the dead letters empty', async () => {
    broken = false
    const one = await inject('POST', '/v1/dead-letters/dl-2/redrive')
    expect(one.statusCode).toBe(202)
    expect(one.headers.location).toBe('/v1/jobs/dl-2')
    await until('dl-2', 'succeeded')
    expect((await inject('POST', '/v1/dead-letters/dl-2/redrive')).statusCode).toBe(404)

    const bulk = await inject('POST', '/v1/dead-letters/redrive', { limit: 10 })
    expect(bulk.json()).toEqual({ redriven: 2, ids: ['dl-3', 'dl-1'], skipped: [], stoppedBecause: 'no more dead letters' })
    await until('dl-1', 'succeeded')
    await until('dl-3', 'succeeded')
    expect((await inject('GET', '/v1/dead-letters')).json().items).toEqual([])
  })

  it('dead letters - redriving an unknown job is 404 problem+json', async () => {
    const response = await inject('POST', '/v1/dead-letters/nobody/redrive')
    expect(response.statusCode).toBe(404)
    expect(response.headers['content-type']).toMatch(/problem\+json/)
  })
})

describe('dead letters written by other clients', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let dlqPrefix: string

  beforeAll(async () => {
    server = await startNatsServer()
    const env = queueEnv(server.url)
    dlqPrefix = env.QUEUE_DLQ_SUBJECT_PREFIX!
    ingress = await startIngress(env)
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  // Any NATS client with publish rights can write to the dead-letter subjects, with any headers or none.
  async function publishDeadLetter(js: JetStreamClient, id: string, fields: Record<string, string> | undefined): Promise<void> {
    const h = fields === undefined ? undefined : headers()
    for (const [name, value] of Object.entries(fields ?? {})) h!.set(name, value)
    await js.publish(`${dlqPrefix}.${id}`, new TextEncoder().encode('{}'), h ? { headers: h } : {})
  }

  it('dead letters - missing or malformed headers are listed with fallbacks, never a 500', async () => {
    const js = jetstream(ingress.nats.nc)
    const deadAt = '2026-01-02T03:04:05.000Z'
    await publishDeadLetter(js, 'fine', {
      'Sluice-Job-Type': 'report',
      'Sluice-Queued-At': deadAt,
      'Sluice-Error': 'boom',
      'Sluice-Attempts': '3',
      'Sluice-Dead-At': deadAt,
    })
    await publishDeadLetter(js, 'words', { 'Sluice-Job-Type': 'report', 'Sluice-Attempts': 'lots', 'Sluice-Dead-At': 'yesterday' })
    await publishDeadLetter(js, 'huge', { 'Sluice-Attempts': '1e400' })
    await publishDeadLetter(js, 'negative', { 'Sluice-Attempts': '-2' })
    await publishDeadLetter(js, 'bare', undefined)

    const response = await ingress.app.inject({ method: 'GET', url: '/v1/dead-letters' })
    expect(response.statusCode).toBe(200)
    const items = response.json().items as Record<string, unknown>[]
    expect(items.map((item) => item.id)).toEqual(['fine', 'words', 'huge', 'negative', 'bare'])
    expect(items[0]).toMatchObject({ type: 'report', queuedAt: deadAt, error: 'boom', attempts: 3, deadAt })
    for (const item of items.slice(1)) {
      expect(item.attempts).toBe(0)
      // Without a readable time of death, the time the stream stored it.
      expect(Number.isNaN(Date.parse(item.deadAt as string))).toBe(false)
    }
    expect(items[4]).toMatchObject({ type: '', error: '', queuedAt: '' })
  })

  it('dead letters - a malformed dead letter can still be redriven', async () => {
    const response = await ingress.app.inject({ method: 'POST', url: '/v1/dead-letters/words/redrive' })
    expect(response.statusCode).toBe(202)
  })
})
