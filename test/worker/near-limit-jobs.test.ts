import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { applyQueueStreams, applyWorkerConsumer, createLogger } from '@sluice/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, workerConfigFor, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

// One attempt per job, whose delivery the server gives up on after a second.
const LOST_ON_LAST_ATTEMPT = { QUEUE_ACK_WAIT_MS: '1000', QUEUE_MAX_DELIVER: '1' }

// Messages as large as the queue takes: the ingress never sends one (it refuses bodies past JOB_MAX_BYTES),
// but any NATS client with publish rights on the jobs subjects can.
describe('near-limit jobs', () => {
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

  async function ingressFor(env: Env): Promise<InProcessIngress & { jsm: JetStreamManager }> {
    const ingress = await startIngress(env)
    cleanups.push(() => ingress.close())
    return { ...ingress, jsm: await jetstreamManager(ingress.nats.nc) }
  }

  // What another client would send: no headers of ours, the body filling the stream's max_msg_size but for `slack` bytes.
  async function publishNearLimit(ingress: InProcessIngress & { jsm: JetStreamManager }, env: Env, id: string, slack = 40): Promise<number> {
    const limit = (await ingress.jsm.streams.info(env.QUEUE_STREAM!)).config.max_msg_size
    const body = new TextEncoder().encode(JSON.stringify({ blob: 'x'.repeat(limit - slack - 12) }))
    await jetstream(ingress.nats.nc).publish(`${env.QUEUE_SUBJECT_PREFIX}.${id}`, body)
    return body.length
  }

  async function messagesIn(jsm: JetStreamManager, stream: string): Promise<number> {
    return (await jsm.streams.info(stream)).state.messages
  }

  async function stateOf(ingress: InProcessIngress, id: string): Promise<string | undefined> {
    return (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json().state
  }

  it("near-limit jobs - a message filling the queue's size limit, from another client, is dead-lettered whole", async () => {
    const env = queueEnv(server.url, { QUEUE_MAX_DELIVER: '2', QUEUE_RETRY_BACKOFF_MS: '10' })
    const ingress = await ingressFor(env)
    const worker = await startWorker(env)
    cleanups.push(() => worker.close())
    const size = await publishNearLimit(ingress, env, 'huge1')

    // No type header: no handler, so the worker files it at once, with headers the original did not have.
    await eventually('the job to be dead-lettered', async () => ((await stateOf(ingress, 'huge1')) === 'dead' ? true : undefined), 15_000)
    await eventually('the job to leave the queue', async () => ((await messagesIn(ingress.jsm, env.QUEUE_STREAM!)) === 0 ? true : undefined))
    const dead = await ingress.jsm.streams.getMessage(env.QUEUE_DLQ_STREAM!, { last_by_subj: `${env.QUEUE_DLQ_SUBJECT_PREFIX}.huge1` })
    expect(dead?.data.length).toBe(size)
    expect(dead?.header.get('Sluice-Error')).toMatch(/no handler/)
    expect((await ingress.app.inject({ method: 'GET', url: '/v1/dead-letters' })).json().items).toHaveLength(1)
  })

  // Both delivered to a hand-made pull and never answered (a worker lost on their only attempt).
  async function loseFirstDeliveries(ingress: InProcessIngress & { jsm: JetStreamManager }, env: Env, ids: string[]): Promise<void> {
    const config = workerConfigFor(env)
    await applyWorkerConsumer(ingress.nats.nc, config.queue, createLogger('worker', config.log))
    const consumer = await jetstream(ingress.nats.nc).consumers.get(config.queue.stream, config.queue.consumer)
    for (const id of ids) expect((await consumer.next({ expires: 5000 }))?.subject).toBe(`${config.queue.subjectPrefix}.${id}`)
  }

  async function startWorkerFor(env: Env): Promise<void> {
    const worker = await startWorker(env)
    cleanups.push(() => worker.close())
  }

  it('near-limit jobs - a near-limit message whose last attempt was lost is dead-lettered by the next worker, and so are the jobs after it', async () => {
    const env = queueEnv(server.url, LOST_ON_LAST_ATTEMPT)
    const ingress = await ingressFor(env)
    await publishNearLimit(ingress, env, 'huge2')
    const after = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': 'after-huge' },
      payload: { type: 'noop', payload: {} },
    })
    expect(after.statusCode).toBe(202)
    await loseFirstDeliveries(ingress, env, ['huge2', 'after-huge'])

    await startWorkerFor(env)
    await eventually('both to leave the queue', async () => ((await messagesIn(ingress.jsm, env.QUEUE_STREAM!)) === 0 ? true : undefined), 15_000)
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(2)
    for (const id of ['huge2', 'after-huge']) expect(await stateOf(ingress, id)).toBe('dead')
    const letter = await ingress.jsm.streams.getMessage(env.QUEUE_DLQ_STREAM!, { last_by_subj: `${env.QUEUE_DLQ_SUBJECT_PREFIX}.after-huge` })
    expect(letter?.header.get('Sluice-Error')).toMatch(/no outcome after 1 deliveries/)
  })

  it('near-limit jobs - a message that cannot be dead-lettered does not hold up the jobs after it', async () => {
    const env = queueEnv(server.url, { ...LOST_ON_LAST_ATTEMPT, QUEUE_RETRY_BACKOFF_MS: '200' })
    const ingress = await ingressFor(env)
    const config = workerConfigFor(env)
    const logger = createLogger('worker', config.log)
    await publishNearLimit(ingress, env, 'poison')
    const after = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': 'after-poison' },
      payload: { type: 'noop', payload: {} },
    })
    expect(after.statusCode).toBe(202)
    await loseFirstDeliveries(ingress, env, ['poison', 'after-poison'])
    // A dead-letter stream that cannot take the first one (here: sized like the queue, as it once was).
    const jobsLimit = (await ingress.jsm.streams.info(env.QUEUE_STREAM!)).config.max_msg_size
    const dlq = await ingress.jsm.streams.info(env.QUEUE_DLQ_STREAM!)
    await ingress.jsm.streams.update(env.QUEUE_DLQ_STREAM!, { ...dlq.config, max_msg_size: jobsLimit })

    await startWorkerFor(env)
    await eventually(
      'the job after the poison one to be dead-lettered',
      async () => ((await stateOf(ingress, 'after-poison')) === 'dead' ? true : undefined),
      15_000,
    )
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(1)

    // Once the stream has its room back (the ingress applies it at start-up), a redelivery files it.
    await applyQueueStreams(ingress.nats.nc, config.queue, logger)
    await eventually('the poison job to leave the queue', async () => ((await messagesIn(ingress.jsm, env.QUEUE_STREAM!)) === 0 ? true : undefined), 15_000)
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(2)
  })
})
