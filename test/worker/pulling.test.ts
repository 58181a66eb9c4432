import { jetstreamManager } from '@nats-io/jetstream'
import type { JobHandler } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

describe('pulling', () => {
  let server: NatsServerFixture
  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  it('pulling - a busy worker holds no more than its concurrency; another worker runs the rest', async () => {
    const concurrency = 4
    const jobs = 24
    const env = queueEnv(server.url, { WORKER_CONCURRENCY: String(concurrency) })
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const ranBy = { busy: 0, idle: 0 }
    const busyHandlers = new Map<string, JobHandler>([
      [
        'hold',
        async () => {
          ranBy.busy++
          return gate
        },
      ],
    ])
    const idleHandlers = new Map<string, JobHandler>([['hold', async () => void ranBy.idle++]])
    const ingress = await startIngress(env)
    const busy = await startWorker(env, busyHandlers)
    let idle: Awaited<ReturnType<typeof startWorker>> | undefined
    try {
      for (let i = 0; i < jobs; i++) {
        const response = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: { type: 'hold', payload: {} } })
        expect(response.statusCode).toBe(202)
      }
      await eventually('the busy worker to fill its slots', () => (busy.worker.inProgress === concurrency ? true : undefined))
      // Started only now, so every job it runs is one the busy worker left in the queue.
      idle = await startWorker({ ...env, WORKER_CONCURRENCY: '16' }, idleHandlers)
      // Pulls ask only for free slots: the busy worker holds the jobs it runs and nothing more.
      await eventually('the other worker to run what the busy one has not pulled', () => (ranBy.idle >= jobs - concurrency ? true : undefined), 10_000)
      expect(busy.worker.inProgress).toBe(concurrency)
      release()
      const jsm = await jetstreamManager(ingress.nats.nc)
      await eventually('every job to leave the queue', async () => ((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 0 ? true : undefined))
      expect(ranBy.busy + ranBy.idle).toBe(jobs)
    } finally {
      release()
      await idle?.close()
      await busy.close()
      await ingress.close()
    }
  })
})
