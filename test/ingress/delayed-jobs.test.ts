import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { scheduledConsumerName, type QueueConfig } from '@sluice/core'
import { defineHandler, handlerRegistry } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { injectStampJob } from '../support/job-api.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

interface Accepted {
  readonly id: string
  readonly queuedAt: string
  readonly runAt?: string
}

// Delayed jobs (`delayMs`, `runAt`) against a real nats-server, with an ingress and workers in this process.
// What the ingress admits (bounds, a full queue) is test/ingress/delayed-job-admission.test.ts.
describe('delayed jobs', () => {
  let server: NatsServerFixture
  // When each job's handler started (ms since epoch), and how often it ran.
  const started = new Map<string, number[]>()
  const failFirst = new Set<string>()
  const handlers = handlerRegistry([
    defineHandler('stamp', async (_payload, { job }) => {
      started.set(job.id, [...(started.get(job.id) ?? []), Date.now()])
      if (failFirst.delete(job.id)) throw new Error('the first attempt fails')
      return { ran: true }
    }),
  ])

  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  const submit = (ingress: InProcessIngress, id: string, schedule: Record<string, unknown>) => injectStampJob(ingress.app, id, schedule)

  async function stateOf(ingress: InProcessIngress, id: string): Promise<Record<string, unknown>> {
    return (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json()
  }

  async function settled(ingress: InProcessIngress, id: string, state: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return eventually(
      `${id} to be ${state}`,
      async () => {
        const status = await stateOf(ingress, id)
        return status.state === state ? status : undefined
      },
      timeoutMs,
    )
  }

  describe('with one queue', () => {
    let env: Env
    let queue: QueueConfig
    let ingress: InProcessIngress
    let worker: InProcessWorker
    let jsm: JetStreamManager

    beforeAll(async () => {
      env = queueEnv(server.url, {
        QUEUE_MAX_MESSAGES: '200',
        QUEUE_MAX_ACK_PENDING: '8',
        WORKER_CONCURRENCY: '4',
        JOB_MAX_DELAY_MS: '3600000',
        QUEUE_RETRY_BACKOFF_MS: '300',
      })
      queue = ingressConfigFor(env).queue
      ingress = await startIngress(env)
      worker = await startWorker(env, handlers)
      jsm = await jetstreamManager(ingress.nats.nc)
    })
    afterAll(async () => {
      await worker?.close()
      await ingress?.close()
    })

    it('delayed jobs - a job delayed 2.5 s is scheduled with its runAt, runs no earlier than due and within 2 s after (about 1 s by design, the rest margin for busy cores)', async () => {
      // Eight more, due at other moments between 1 and 3 s, for a spread of figures.
      const others = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => Date.parse((await submit(ingress, `spread-${i}`, { delayMs: 1000 + 250 * i })).json<Accepted>().runAt ?? '')),
      )
      const before = Date.now()
      const response = await submit(ingress, 'later-1', { delayMs: 2500 })
      expect(response.statusCode).toBe(202)
      const accepted = response.json<Accepted>()
      const dueMs = Date.parse(accepted.runAt ?? '')
      expect(dueMs).toBeGreaterThanOrEqual(before + 2500)
      expect(dueMs).toBeLessThanOrEqual(Date.now() + 2500)
      const scheduled = await stateOf(ingress, 'later-1')
      expect(scheduled).toMatchObject({ id: 'later-1', state: 'scheduled', attempts: 0, runAt: accepted.runAt, queuedAt: accepted.queuedAt })
      // A client's retry of the same submission is a duplicate, answered with the first one's due time.
      const repeat = await submit(ingress, 'later-1', { delayMs: 2500 })
      expect(repeat.json()).toMatchObject({ id: 'later-1', duplicate: true, runAt: accepted.runAt, queuedAt: accepted.queuedAt })

      const done = await settled(ingress, 'later-1', 'succeeded')
      const [ranAt, ...again] = started.get('later-1') ?? []
      expect(again).toEqual([])
      expect(ranAt).toBeGreaterThanOrEqual(dueMs)
      expect(ranAt! - dueMs).toBeLessThan(2000)
      // The wait is no attempt.
      expect(done.attempts).toBe(1)
      const late = [ranAt! - dueMs]
      for (const [i, due] of others.entries()) {
        await settled(ingress, `spread-${i}`, 'succeeded')
        const [spreadRanAt] = started.get(`spread-${i}`) ?? []
        expect(spreadRanAt).toBeGreaterThanOrEqual(due)
        late.push(spreadRanAt! - due)
      }
      late.sort((a, b) => a - b)
      expect(late.at(-1)).toBeLessThan(2000)
      console.info(`delayed jobs: started after due (ms), 9 jobs: ${late.join(' ')}`)
    })

    it('delayed jobs - runAt: a time ahead is scheduled for it; one just passed (within the tolerance) runs at once', async () => {
      const runAt = new Date(Date.now() + 2000).toISOString()
      const ahead = await submit(ingress, 'at-1', { runAt })
      expect(ahead.statusCode).toBe(202)
      expect(ahead.json<Accepted>().runAt).toBe(runAt)
      const passed = await submit(ingress, 'at-passed', { runAt: new Date(Date.now() - 30_000).toISOString() })
      expect(passed.statusCode).toBe(202)
      expect(passed.json<Accepted>().runAt).toBeUndefined()
      await settled(ingress, 'at-passed', 'succeeded', 5000)
      expect(started.has('at-1')).toBe(false)
      await settled(ingress, 'at-1', 'succeeded')
      expect(started.get('at-1')![0]).toBeGreaterThanOrEqual(Date.parse(runAt))
    })

    it('delayed jobs - more waiting jobs than the ready consumer max_ack_pending (8) do not hold back ready jobs', async () => {
      for (let i = 0; i < 40; i++) expect((await submit(ingress, `far-${i}`, { delayMs: 600_000 })).statusCode).toBe(202)
      // Every one of them was seen by the worker and is waiting in the scheduled consumer.
      await eventually('the scheduled jobs to wait in their consumer', async () => {
        const info = await jsm.consumers.info(queue.stream, scheduledConsumerName(queue))
        return info.num_pending === 0 && info.num_ack_pending >= 40 ? true : undefined
      })
      await eventually('GET /v1/queue to count them as scheduled', async () => {
        const body = (await ingress.app.inject({ method: 'GET', url: '/v1/queue' })).json<{ scheduled: number; depth: number; pending: number }>()
        return body.scheduled === 40 && body.depth === 40 && body.pending === 0 ? true : undefined
      })
      for (let i = 0; i < 20; i++) expect((await submit(ingress, `now-${i}`, {})).statusCode).toBe(202)
      for (let i = 0; i < 20; i++) await settled(ingress, `now-${i}`, 'succeeded', 10_000)
      const ready = await jsm.consumers.info(queue.stream, queue.consumer)
      expect(ready.num_ack_pending).toBe(0)
      expect(await stateOf(ingress, 'far-0')).toMatchObject({ state: 'scheduled' })
      expect(started.has('far-0')).toBe(false)
      for (let i = 0; i < 40; i++) expect((await ingress.app.inject({ method: 'DELETE', url: `/v1/jobs/far-${i}` })).statusCode).toBe(200)
    })

    it('delayed jobs - cancelling a scheduled job makes it cancelled and it never runs', async () => {
      const response = await submit(ingress, 'cancel-me', { delayMs: 1500 })
      const { runAt } = response.json<Accepted>()
      // The worker has seen it and set its wait: the server holds it in the scheduled consumer.
      await eventually('the job to wait in the scheduled consumer', async () => {
        const info = await jsm.consumers.info(queue.stream, scheduledConsumerName(queue))
        return info.num_pending === 0 && info.num_ack_pending >= 1 ? true : undefined
      })
      const cancel = await ingress.app.inject({ method: 'DELETE', url: '/v1/jobs/cancel-me' })
      expect(cancel.statusCode).toBe(200)
      expect(cancel.json()).toMatchObject({ id: 'cancel-me', state: 'cancelled', runAt })
      // Past its due time, with a canary due just after it that does run.
      await submit(ingress, 'after-cancel', { delayMs: 500 })
      await settled(ingress, 'after-cancel', 'succeeded')
      await eventually('the due time to pass', () => (Date.now() > Date.parse(runAt ?? '') + 1000 ? true : undefined), 5000)
      expect(started.has('cancel-me')).toBe(false)
      expect(await stateOf(ingress, 'cancel-me')).toMatchObject({ state: 'cancelled' })
      expect((await jsm.streams.info(queue.stream)).state.messages).toBe(0)
    })

    it('delayed jobs - a due job that fails is retried with backoff and counts its attempts from 1', async () => {
      failFirst.add('retry-1')
      await submit(ingress, 'retry-1', { delayMs: 1000 })
      const done = await settled(ingress, 'retry-1', 'succeeded')
      expect(done.attempts).toBe(2)
      const [first, second] = started.get('retry-1') ?? []
      expect(second! - first!).toBeGreaterThanOrEqual(300)
    })
  })

  it('delayed jobs - 200 jobs falling due at once beside 100 ready ones, on two workers: each runs once, none early, as attempt 1', async () => {
    const env = queueEnv(server.url, { WORKER_CONCURRENCY: '4', QUEUE_MAX_ACK_PENDING: '16' })
    const ingress = await startIngress(env)
    const workers = [await startWorker(env, handlers), await startWorker(env, handlers)]
    try {
      const runAt = new Date(Date.now() + 2000).toISOString()
      const scheduled = Array.from({ length: 200 }, (_, i) => `burst-${i}`)
      const ready = Array.from({ length: 100 }, (_, i) => `beside-${i}`)
      for (const id of scheduled) expect((await submit(ingress, id, { runAt })).statusCode).toBe(202)
      for (const id of ready) expect((await submit(ingress, id, {})).statusCode).toBe(202)
      await eventually('every job to succeed', async () => {
        const jsm = await jetstreamManager(ingress.nats.nc)
        return (await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 0 ? true : undefined
      })
      for (const id of [...scheduled, ...ready]) expect(await settled(ingress, id, 'succeeded')).toMatchObject({ attempts: 1 })
      for (const id of scheduled) {
        expect(started.get(id)).toHaveLength(1)
        expect(started.get(id)![0]).toBeGreaterThanOrEqual(Date.parse(runAt))
      }
      for (const id of ready) expect(started.get(id)).toHaveLength(1)
      const last = Math.max(...scheduled.map((id) => started.get(id)![0]!))
      // Ready pulls keep to half the slots while due jobs come: an idle ready pull would hold them all for 1 s.
      expect(last - Date.parse(runAt)).toBeLessThan(1500)
      console.info(`delayed jobs: 200 due at once ran within ${last - Date.parse(runAt)} ms of their time on 2 workers x 4`)
    } finally {
      for (const worker of workers) await worker.close()
      await ingress.close()
    }
  })

  it('delayed jobs - waiting jobs outlive a nats-server restart and still run no earlier than due, as their first attempt', async (ctx) => {
    ctx.skip(!server.controllable, NOT_CONTROLLABLE_REASON)
    const env = queueEnv(server.url, { WORKER_CONCURRENCY: '2' })
    const queue = ingressConfigFor(env).queue
    const ingress = await startIngress(env)
    const worker = await startWorker(env, handlers)
    try {
      const runAts = new Map<string, string>()
      for (const id of ['restart-1', 'restart-2']) runAts.set(id, (await submit(ingress, id, { delayMs: 4000 })).json<Accepted>().runAt!)
      const jsm = await jetstreamManager(ingress.nats.nc)
      await eventually('both jobs to wait in the scheduled consumer', async () => {
        const info = await jsm.consumers.info(queue.stream, scheduledConsumerName(queue))
        return info.num_pending === 0 && info.num_ack_pending === 2 ? true : undefined
      })
      await server.stop()
      await server.restart()
      for (const [id, runAt] of runAts) {
        const done = await settled(ingress, id, 'succeeded', 20_000)
        expect(done.attempts).toBe(1)
        expect(started.get(id)).toHaveLength(1)
        expect(started.get(id)![0]).toBeGreaterThanOrEqual(Date.parse(runAt))
      }
    } finally {
      await worker.close()
      await ingress.close()
    }
  })

  it("delayed jobs - with API keys on, a scheduled job is its submitting key's: another key gets 404 for it, as for an unknown id", async () => {
    const [owner, other] = ['delayed-owner-key-Hq3zP8wL5nT2', 'delayed-other-key-Rj6vB1xM9cK4']
    const keys = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
    writeFileSync(keys, `${owner}\n${other}\n`)
    const env = queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys })
    const ingress = await startIngress(env)
    const as = (key: string) => ({ authorization: `Bearer ${key}` })
    try {
      const response = await ingress.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { ...as(owner), ...json },
        payload: { type: 'stamp', payload: {}, delayMs: 60_000 },
      })
      expect(response.statusCode).toBe(202)
      const { id, runAt } = response.json<Accepted>()
      expect((await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: as(owner) })).json()).toMatchObject({ state: 'scheduled', runAt })
      expect((await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: as(other) })).statusCode).toBe(404)
      expect((await ingress.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: as(other) })).statusCode).toBe(404)
      expect((await ingress.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: as(owner) })).json()).toMatchObject({ state: 'cancelled', runAt })
    } finally {
      await ingress.close()
    }
  })
})
