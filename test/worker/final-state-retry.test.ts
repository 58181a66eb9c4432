import { jetstreamManager, type StreamConfig } from '@nats-io/jetstream'
import { defineHandler, handlerRegistry } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, workerConfigFor, type Env } from '../support/queue-env.ts'

// A job that finishes while the queue cannot store its final state (its NATS server stopping, as in a helm
// upgrade) must not be acknowledged into the void: the restarted server would deliver it again and it would
// run twice. Here the state bucket's stream is taken away while the handler runs (the server answers the
// write "no responders", as a server whose JetStream has stopped does) and put back later.
describe('final state retry', () => {
  let server: NatsServerFixture
  let env: Env
  let ingress: InProcessIngress
  let worker: InProcessWorker
  // Each run is counted, and waits until the test opens the gate.
  let runs = 0
  let openGate: (() => void) | undefined
  const handlers = handlerRegistry([
    defineHandler('gated', async () => {
      runs++
      await new Promise<void>((resolve) => {
        openGate = resolve
      })
    }),
  ])

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url)
    ingress = await startIngress(env)
    worker = await startWorker(env, handlers)
  })
  afterAll(async () => {
    openGate?.()
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  it('final state retry - the job is held, not acknowledged, until its succeeded state is stored; it runs once', async () => {
    const { queue } = workerConfigFor(env)
    const jsm = await jetstreamManager(ingress.nats.nc)
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'held-1' },
      payload: { type: 'gated', payload: {} },
    })
    expect(response.statusCode).toBe(202)
    await eventually('the job to start', () => openGate, 10_000)

    const bucketStream = `KV_${queue.statusBucket}`
    const { config } = await jsm.streams.info(bucketStream)
    await jsm.streams.delete(bucketStream)
    openGate!()
    // Two retries' worth: the job must still be the worker's, unacknowledged.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(worker.worker.inProgress).toBe(1)
    expect((await jsm.consumers.info(queue.stream, queue.consumer)).num_ack_pending).toBe(1)

    await jsm.streams.add(config as StreamConfig)
    const status = await eventually(
      'the succeeded state, stored once the bucket is back',
      async () => {
        const answer = (await ingress.app.inject({ method: 'GET', url: '/v1/jobs/held-1' })).json<{ state?: string; attempts?: number }>()
        return answer.state === 'succeeded' ? answer : undefined
      },
      10_000,
    )
    expect(status).toMatchObject({ state: 'succeeded', attempts: 1 })
    await eventually(
      'the job acknowledged',
      async () => ((await jsm.consumers.info(queue.stream, queue.consumer)).num_ack_pending === 0 ? true : undefined),
      5000,
    )
    expect(worker.worker.inProgress).toBe(0)
    expect(runs).toBe(1)
  })
})
