import { setTimeout as sleep } from 'node:timers/promises'
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { headers } from '@nats-io/nats-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

interface BulkAnswer {
  redriven: number
  ids: string[]
  stoppedBecause: string
}

// No worker runs here: a redriven job stays in the queue, where the tests count it.
describe('dead-letter redrive', () => {
  let server: NatsServerFixture
  const cleanups: (() => Promise<unknown>)[] = []

  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  afterAll(async () => {
    await server?.close()
  })

  async function ingressFor(overrides: Env = {}): Promise<{ ingress: InProcessIngress; env: Env; jsm: JetStreamManager }> {
    const env = queueEnv(server.url, { INGRESS_REDRIVE_RATE_PER_SECOND: '200', ...overrides })
    const ingress = await startIngress(env)
    cleanups.push(() => ingress.close())
    return { ingress, env, jsm: await jetstreamManager(ingress.nats.nc) }
  }

  // Dead letters as a worker files them, without running the jobs.
  async function fileDeadLetters(ingress: InProcessIngress, env: Env, ids: readonly string[]): Promise<void> {
    const js = jetstream(ingress.nats.nc)
    for (const [i, id] of ids.entries()) {
      const h = headers()
      h.set('Nats-Msg-Id', `${id}-${i + 1}`)
      h.set('Sluice-Job-Type', 'report')
      h.set('Sluice-Queued-At', new Date().toISOString())
      h.set('Sluice-Error', 'report service is down')
      h.set('Sluice-Attempts', '3')
      h.set('Sluice-Dead-At', new Date().toISOString())
      await js.publish(`${env.QUEUE_DLQ_SUBJECT_PREFIX}.${id}`, new TextEncoder().encode(JSON.stringify({ id })), { headers: h })
    }
  }

  async function messagesIn(jsm: JetStreamManager, stream: string): Promise<number> {
    return (await jsm.streams.info(stream)).state.messages
  }

  function redriveOne(ingress: InProcessIngress, id: string) {
    return ingress.app.inject({ method: 'POST', url: `/v1/dead-letters/${id}/redrive` })
  }

  function redriveMany(ingress: InProcessIngress, body: object) {
    return ingress.app.inject({ method: 'POST', url: '/v1/dead-letters/redrive', headers: json, payload: body })
  }

  const ids = (count: number, prefix: string): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`)

  it('dead-letter redrive - overlapping redrives of one job put it back once: one 202, the others 409 problem+json, never a 500', async () => {
    const { ingress, env, jsm } = await ingressFor()
    await fileDeadLetters(ingress, env, ['overlap'])
    const answers = await Promise.all(Array.from({ length: 5 }, () => redriveOne(ingress, 'overlap')))
    const codes = answers.map((answer) => answer.statusCode)
    expect(codes.filter((code) => code === 202)).toHaveLength(1)
    // A request that read the dead letter before another removed it is told so (409); one that came after
    // finds no dead letter (404).
    expect(codes.filter((code) => code !== 202 && code !== 409 && code !== 404)).toEqual([])
    expect(codes).toContain(409)
    const conflict = answers.find((answer) => answer.statusCode === 409)!
    expect(conflict.headers['content-type']).toMatch(/problem\+json/)
    expect(conflict.json()).toMatchObject({ type: 'urn:sluice:problem:already-redriven', status: 409 })
    expect(answers.find((answer) => answer.statusCode === 202)!.json()).toEqual({ id: 'overlap', redriven: true })
    expect(await messagesIn(jsm, env.QUEUE_STREAM!)).toBe(1)
    expect(await messagesIn(jsm, env.QUEUE_DLQ_STREAM!)).toBe(0)
    // The state recorded is that of the job in the queue, so the worker's later states supersede it.
    const queued = await jsm.streams.getMessage(env.QUEUE_STREAM!, { last_by_subj: `${env.QUEUE_SUBJECT_PREFIX}.overlap` })
    const state = (await ingress.app.inject({ method: 'GET', url: '/v1/jobs/overlap' })).json()
    expect(state).toMatchObject({ state: 'queued', queuedAt: queued!.header.get('Sluice-Queued-At') })
  })

  it('dead-letter redrive - two overlapping bulk redrives put every job back once and each reports the ids it moved', async () => {
    const { ingress, env, jsm } = await ingressFor()
    const all = ids(12, 'bulk')
    await fileDeadLetters(ingress, env, all)
    const answers = await Promise.all([redriveMany(ingress, { limit: 100 }), redriveMany(ingress, { limit: 100 })])
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200])
    const [first, second] = answers.map((answer) => answer.json<BulkAnswer>())
    expect(first!.redriven + second!.redriven).toBe(all.length)
    expect([...first!.ids, ...second!.ids].sort()).toEqual([...all].sort())
    for (const answer of [first!, second!]) {
      expect(answer.ids).toHaveLength(answer.redriven)
      expect(answer.stoppedBecause).toBe('no more dead letters')
    }
    expect(await messagesIn(jsm, env.QUEUE_STREAM!)).toBe(all.length)
    expect(await messagesIn(jsm, env.QUEUE_DLQ_STREAM!)).toBe(0)
  })

  it('dead-letter redrive - a bulk redrive that fills the queue reports the ids it moved and why it stopped', async () => {
    const { ingress, env, jsm } = await ingressFor({ QUEUE_MAX_MESSAGES: '3' })
    const all = ids(5, 'full')
    await fileDeadLetters(ingress, env, all)
    const answer = await redriveMany(ingress, { limit: 100 })
    expect(answer.statusCode).toBe(200)
    expect(answer.json()).toEqual({ redriven: 3, ids: all.slice(0, 3), skipped: [], stoppedBecause: 'queue full' })
    expect(await messagesIn(jsm, env.QUEUE_DLQ_STREAM!)).toBe(2)
  })

  it('dead-letter redrive - a dead letter too large for the queue is refused with 422 and passed over by a bulk redrive', async () => {
    const { ingress, env, jsm } = await ingressFor()
    // Another client filled a job to the queue's limit; it was dead-lettered with its body whole.
    const limit = (await jsm.streams.info(env.QUEUE_STREAM!)).config.max_msg_size
    await jetstream(ingress.nats.nc).publish(`${env.QUEUE_DLQ_SUBJECT_PREFIX}.huge`, new Uint8Array(limit - 20).fill(0x78))
    await fileDeadLetters(ingress, env, ['after-huge'])

    const one = await redriveOne(ingress, 'huge')
    expect(one.statusCode).toBe(422)
    expect(one.json()).toMatchObject({ type: 'urn:sluice:problem:dead-letter-too-large' })
    const bulk = await redriveMany(ingress, { limit: 100 })
    expect(bulk.json()).toMatchObject({ redriven: 1, ids: ['after-huge'], skipped: [{ id: 'huge' }], stoppedBecause: 'no more dead letters' })
    expect(await messagesIn(jsm, env.QUEUE_STREAM!)).toBe(1)
    expect(await messagesIn(jsm, env.QUEUE_DLQ_STREAM!)).toBe(1)
  })

  it('dead-letter redrive - a bulk redrive stops when its client goes away', async () => {
    const { ingress, env, jsm } = await ingressFor({ INGRESS_REDRIVE_RATE_PER_SECOND: '5' })
    const all = ids(30, 'gone')
    await fileDeadLetters(ingress, env, all)
    const baseUrl = await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    const client = new AbortController()
    const answer = fetch(`${baseUrl}/v1/dead-letters/redrive`, { method: 'POST', headers: json, body: JSON.stringify({ limit: 1000 }), signal: client.signal })
    answer.catch(() => undefined)
    await eventually('the first redrive', async () => ((await messagesIn(jsm, env.QUEUE_STREAM!)) >= 1 ? true : undefined))
    client.abort()
    await expect(answer).rejects.toThrow()
    const atAbort = await messagesIn(jsm, env.QUEUE_STREAM!)
    // Not a synchronisation but the length of a negative check: at 5/s a redrive that went on would move
    // five more in this time (one already under way when the client left may still land).
    await sleep(1000)
    expect(await messagesIn(jsm, env.QUEUE_STREAM!)).toBeLessThanOrEqual(atAbort + 1)
    expect(await messagesIn(jsm, env.QUEUE_DLQ_STREAM!)).toBeGreaterThanOrEqual(all.length - atAbort - 1)
  })

  it('dead-letter redrive - a drain stops a bulk redrive at once, and the answer says what it did', async () => {
    const { ingress, env, jsm } = await ingressFor({ INGRESS_REDRIVE_RATE_PER_SECOND: '5' })
    const all = ids(30, 'drain')
    await fileDeadLetters(ingress, env, all)
    const baseUrl = await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    const answer = fetch(`${baseUrl}/v1/dead-letters/redrive`, { method: 'POST', headers: json, body: JSON.stringify({ limit: 1000 }) })
    await eventually('the first redrive', async () => ((await messagesIn(jsm, env.QUEUE_STREAM!)) >= 1 ? true : undefined))
    const drainStarted = Date.now()
    ingress.startDraining()
    const closed = ingress.app.close()
    const response = await answer
    await closed
    // The other 29 at 5/s would take about 6 s; the drain takes one redrive at most.
    expect(Date.now() - drainStarted).toBeLessThan(3000)
    expect(response.status).toBe(200)
    expect(response.headers.get('connection')).toBe('close')
    const body = (await response.json()) as BulkAnswer
    expect(body.stoppedBecause).toBe('ingress draining')
    expect(body.ids).toEqual(all.slice(0, body.redriven))
    expect(body.redriven).toBeLessThan(all.length)
    expect(await messagesIn(jsm, env.QUEUE_STREAM!)).toBe(body.redriven)
    expect(await messagesIn(jsm, env.QUEUE_DLQ_STREAM!)).toBe(all.length - body.redriven)
  })
})
