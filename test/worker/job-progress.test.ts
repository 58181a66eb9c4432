import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { QueueConfig } from '@sluice/core'
import { defineHandler, handlerRegistry } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }
// Long enough for several write intervals.
const CHAT_MS = 2500

// A handler's progress reports, through a real nats-server to GET /v1/jobs/<id>, and what they cost the
// state store.
describe('job progress', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker
  let env: Env
  let queue: QueueConfig
  const release = new Map<string, () => void>()
  const lastReport = new Map<string, number>()

  const handlers = handlerRegistry([
    // Reports as fast as it can for a while, then waits for the test to let it finish.
    defineHandler('chatty', async (_payload, { job, progress }) => {
      const until = Date.now() + CHAT_MS
      let value = 0
      while (Date.now() < until) {
        value++
        progress(value, { step: 'copying', value })
        if (value % 100 === 0) await yieldToLoop()
      }
      lastReport.set(job.id, value)
      await new Promise<void>((resolve) => release.set(job.id, resolve))
      return { copied: value }
    }),
  ])

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url)
    ingress = await startIngress(env)
    queue = ingressConfigFor(env).queue
    worker = await startWorker(env, handlers)
  })
  afterAll(async () => {
    for (const done of release.values()) done()
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  const stateOf = async (id: string) => (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json() as Record<string, unknown>

  it('job progress - a chatty handler shows its latest report while running, in at most one state write a second', async () => {
    // Every state write of the job is a message on its key's subject.
    const writes: number[] = []
    const subscription = ingress.nats.nc.subscribe(`$KV.${queue.statusBucket}.progress-1`, {
      callback: () => {
        writes.push(Date.now())
      },
    })
    await ingress.nats.nc.flush()
    const started = Date.now()
    const submitted = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': 'progress-1' },
      payload: { type: 'chatty', payload: {} },
    })
    expect(submitted.statusCode).toBe(202)

    const shown = await eventually(
      'the last report to show',
      async () => {
        const last = lastReport.get('progress-1')
        const status = await stateOf('progress-1')
        return last !== undefined && (status.progress as { value?: number } | undefined)?.value === last ? status : undefined
      },
      15_000,
    )
    const last = lastReport.get('progress-1')!
    expect(shown).toMatchObject({ state: 'running', attempts: 1, progress: { value: last, data: { step: 'copying', value: last } } })
    const elapsedMs = Date.now() - started
    // The first `running` write, then one a second at most: many thousands of reports, a handful of writes.
    expect(last).toBeGreaterThan(1000)
    expect(writes.length).toBeGreaterThanOrEqual(2)
    expect(writes.length).toBeLessThanOrEqual(2 + Math.ceil(elapsedMs / 1000))
    for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeGreaterThanOrEqual(900)

    release.get('progress-1')!()
    const done = await eventually('the job to succeed', async () => {
      const status = await stateOf('progress-1')
      return status.state === 'succeeded' ? status : undefined
    })
    expect(done).toMatchObject({ result: { copied: last } })
    expect(done.progress).toBeUndefined()
    subscription.unsubscribe()
  })
})
