import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { injectStampJob } from '../support/job-api.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

// What the ingress admits of delayed jobs, before any worker sees them: the queue's bound counts them, and
// a schedule out of bounds is refused. How they run is test/ingress/delayed-jobs.test.ts.
describe('delayed job admission', () => {
  let server: NatsServerFixture

  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  const submit = (ingress: InProcessIngress, id: string, schedule: Record<string, unknown>) => injectStampJob(ingress.app, id, schedule)

  it('delayed job admission - a queue full of scheduled jobs answers 503 to the next one, delayed or not', async () => {
    const env = queueEnv(server.url, { QUEUE_MAX_MESSAGES: '5' })
    const ingress = await startIngress(env)
    try {
      for (let i = 0; i < 5; i++) expect((await submit(ingress, `fill-${i}`, { delayMs: 60_000 })).statusCode).toBe(202)
      for (const schedule of [{}, { delayMs: 60_000 }]) {
        const refused = await submit(ingress, `over-${JSON.stringify(schedule).length}`, schedule)
        expect(refused.statusCode).toBe(503)
        expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
        expect(refused.json()).toMatchObject({ status: 503 })
      }
      expect((await jetstreamManager(ingress.nats.nc).then((jsm) => jsm.streams.info(env.QUEUE_STREAM!))).state.messages).toBe(5)
    } finally {
      await ingress.close()
    }
  })

  it('delayed job admission - bad schedules are 400 problem+json naming what is wrong', async () => {
    const env = queueEnv(server.url, { JOB_MAX_DELAY_MS: '60000' })
    const ingress = await startIngress(env)
    const now = Date.now()
    // Each case: the schedule, and what the problem's detail names.
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ delayMs: 60_001 }, /delayMs must be <= 60000/],
      [{ delayMs: -1 }, /delayMs must be >= 0/],
      [{ delayMs: 1.5 }, /delayMs must be integer/],
      [{ delayMs: '1000' }, /delayMs must be integer/],
      [{ delayMs: 1000, runAt: new Date(now + 1000).toISOString() }, /must NOT have both delayMs and runAt/],
      [{ runAt: 'tomorrow' }, /runAt must match format "date-time"/],
      [{ runAt: '2026-13-01T00:00:00Z' }, /runAt must match format "date-time"/],
      [{ runAt: new Date(now - 61_000).toISOString() }, /runAt is \d+ s in the past/],
      [{ runAt: new Date(now + 120_000).toISOString() }, /runAt is further ahead than JOB_MAX_DELAY_MS/],
    ]
    try {
      for (const [schedule, detail] of cases) {
        const response = await submit(ingress, 'bad-schedule', schedule)
        expect(response.statusCode, JSON.stringify(schedule)).toBe(400)
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
        expect(response.json<{ detail: string }>().detail, JSON.stringify(schedule)).toMatch(detail)
      }
      expect((await jetstreamManager(ingress.nats.nc).then((jsm) => jsm.streams.info(env.QUEUE_STREAM!))).state.messages).toBe(0)
    } finally {
      await ingress.close()
    }
  })
})
