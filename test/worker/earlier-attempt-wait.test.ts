import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream'
import { applyWorkerConsumer, createLogger, JobHeader, JobStatusStore, type JobStatus } from '@sluice/core'
import { defineHandler, handlerRegistry } from '@sluice/worker'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, workerConfigFor, type Env } from '../support/queue-env.ts'

// After a NATS restart the server may deliver a job again while the worker that ran it is still
// reconnecting. The test plays that worker ("A"): it takes the job from the shared consumer, records it
// `running` as a worker does, and hands it back early (a nak, standing in for the restarted server's early
// redelivery) so that the real worker gets it as attempt 2.
const ACK_WAIT_MS = 8000

const server: NatsServerFixture = await startNatsServer()

describe.skipIf(!server.controllable)(`earlier attempt${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  let env: Env
  let ingress: InProcessIngress | undefined
  let worker: InProcessWorker | undefined
  let runs = 0
  const handlers = handlerRegistry([
    defineHandler('counted', async () => {
      runs++
    }),
  ])

  afterEach(async () => {
    await worker?.close()
    await ingress?.close()
    worker = undefined
    ingress = undefined
    runs = 0
  })
  afterAll(async () => {
    await server.close()
  })

  /** Submits one job and takes it as worker A would; ack_wait keeps it A's through the restart. */
  async function jobTakenByA(id: string): Promise<{ first: JsMsg; store: JobStatusStore }> {
    env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: String(ACK_WAIT_MS) })
    const { queue } = workerConfigFor(env)
    ingress = await startIngress(env)
    await applyWorkerConsumer(ingress.nats.nc, queue, createLogger('test', { level: 'silent' }))
    const answer = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'application/json', 'idempotency-key': id },
      payload: { type: 'counted', payload: {} },
    })
    expect(answer.statusCode).toBe(202)
    const js = jetstream(ingress.nats.nc)
    const first = await (await js.consumers.get(queue.stream, queue.consumer)).next({ expires: 5000 })
    if (!first) throw new Error('worker A got no job')
    return { first, store: await JobStatusStore.open(js, queue.statusBucket) }
  }

  /**
   * Records the job `running` on A (attempt 1) just now, then has the server deliver it again at once:
   * recorded after the restart, so the time the restart took does not eat into the wait being tested.
   */
  async function runningOnAThenRedelivered(id: string, first: JsMsg, store: JobStatusStore): Promise<JobStatus> {
    const now = new Date().toISOString()
    const running: JobStatus = {
      id,
      type: 'counted',
      state: 'running',
      attempts: 1,
      queuedAt: first.headers?.get(JobHeader.queuedAt) ?? '',
      startedAt: now,
      updatedAt: now,
    }
    await store.advance(running)
    first.nak()
    return running
  }

  /** Restarts NATS and waits until the worker and the ingress are connected again. */
  async function restartNats(): Promise<void> {
    await server.stop()
    await server.restart()
    await eventually('both to reconnect', () => (worker!.nats.reconnectedAt() > 0 && ingress!.nats.isConnected() ? true : undefined), 15_000)
  }

  async function pendingAcks(): Promise<number> {
    const { queue } = workerConfigFor(env)
    const jsm = await jetstreamManager(ingress!.nats.nc)
    return (await jsm.consumers.info(queue.stream, queue.consumer)).num_ack_pending
  }

  it('earlier attempt - after a reconnect, a redelivered job whose earlier attempt is running waits and is not run once that attempt succeeds', async () => {
    const { first, store } = await jobTakenByA('wait-then-done')
    worker = await startWorker(env, handlers)
    await restartNats()
    const running = await runningOnAThenRedelivered('wait-then-done', first, store)
    await eventually('the worker to hold attempt 2', () => (worker!.worker.inProgress === 1 ? true : undefined), 10_000)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    expect(runs, 'run while the earlier attempt may still be running').toBe(0)
    expect(worker.worker.inProgress).toBe(1)

    // Worker A reconnects and records the outcome it could not record while NATS was away.
    const finishedAt = new Date().toISOString()
    await store.advance({ ...running, state: 'succeeded', finishedAt, updatedAt: finishedAt })
    await eventually(
      'attempt 2 acknowledged without running',
      async () => ((await pendingAcks()) === 0 && worker!.worker.inProgress === 0 ? true : undefined),
      10_000,
    )
    expect(runs).toBe(0)
    expect(await store.get('wait-then-done')).toMatchObject({ state: 'succeeded', attempts: 1 })
  })

  it('earlier attempt - the wait ends when the earlier attempt has gone ack_wait unheard: the job then runs once', async () => {
    const { first, store } = await jobTakenByA('wait-then-run')
    worker = await startWorker(env, handlers)
    await restartNats()
    const running = await runningOnAThenRedelivered('wait-then-run', first, store)
    const unheardAt = Date.parse(running.updatedAt) + ACK_WAIT_MS
    await new Promise((resolve) => setTimeout(resolve, unheardAt - 1000 - Date.now()))
    expect(runs, 'run before the earlier attempt went ack_wait unheard').toBe(0)
    await eventually('the job to run', () => (runs === 1 ? true : undefined), 5000)
    await eventually('attempt 2 recorded', async () => ((await store.get('wait-then-run'))?.state === 'succeeded' ? true : undefined), 5000)
    expect(await store.get('wait-then-run')).toMatchObject({ state: 'succeeded', attempts: 2 })
    expect(runs).toBe(1)
  })

  it('earlier attempt - without a reconnect (a drain handing the job back) the redelivered job runs at once', async () => {
    const { first, store } = await jobTakenByA('no-wait')
    worker = await startWorker(env, handlers)
    expect(worker.nats.reconnectedAt()).toBe(0)
    await runningOnAThenRedelivered('no-wait', first, store)
    // Well inside the 8 s the earlier attempt's state would hold it after a reconnect.
    await eventually('the job to run', () => (runs === 1 ? true : undefined), 2500)
    await eventually('attempt 2 recorded', async () => ((await store.get('no-wait'))?.state === 'succeeded' ? true : undefined), 5000)
    expect(await store.get('no-wait')).toMatchObject({ state: 'succeeded', attempts: 2 })
  })
})
