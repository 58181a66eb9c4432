import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const server = await startNatsServer()

// Killing workers needs a queue of our own; against an external NATS_URL the suite is skipped.
describe.skipIf(!server.controllable)(`worker faults${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  const apps: AppProcess[] = []

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()))
  })
  afterAll(async () => {
    await server.close()
  })

  async function start(app: 'ingress' | 'worker', env: Env): Promise<AppProcess> {
    const started = await startApp(app, env)
    apps.push(started)
    return started
  }

  async function submitSeed(ingress: AppProcess, userId: string): Promise<void> {
    const response = await fetch(`${ingress.baseUrl}/?user_id=${userId}`)
    expect(response.status).toBe(200)
  }

  async function submitJob(ingress: AppProcess, id: string): Promise<void> {
    const response = await fetch(`${ingress.baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': id },
      body: JSON.stringify({ type: 'user', payload: { user_id: id } }),
    })
    expect(response.status).toBe(202)
  }

  async function stateOf(ingress: AppProcess, id: string): Promise<{ state?: string; attempts?: number }> {
    return (await fetch(`${ingress.baseUrl}/v1/jobs/${id}`)).json() as Promise<{ state?: string; attempts?: number }>
  }

  async function settled(ingress: AppProcess, id: string, state: string, timeoutMs = 20_000) {
    return eventually(
      `${id} to be ${state}`,
      async () => {
        const status = await stateOf(ingress, id)
        return status.state === state ? status : undefined
      },
      timeoutMs,
    )
  }

  it('worker faults - SIGKILL mid-job: the job is redelivered after ack_wait and completed by another worker', async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: '1500' })
    const ingress = await start('ingress', env)
    const doomed = await start('worker', { ...env, JOB_DURATION_MS: '60000' })
    await submitJob(ingress, 'killed-mid-job')
    await doomed.waitForLog(/processing user job: killed-mid-job, started/)
    doomed.signal('SIGKILL')
    expect((await doomed.exited).signal).toBe('SIGKILL')

    const rescuer = await start('worker', { ...env, JOB_DURATION_MS: '50' })
    const status = await settled(ingress, 'killed-mid-job', 'succeeded')
    expect(status.attempts).toBe(2)
    await rescuer.waitForLog(/processing user job: killed-mid-job, finished/)
  })

  it('worker faults - SIGKILL while a due scheduled job runs: it runs again on another worker, as its second attempt', async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: '1500' })
    const ingress = await start('ingress', env)
    const doomed = await start('worker', { ...env, JOB_DURATION_MS: '60000' })
    const response = await fetch(`${ingress.baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'killed-when-due' },
      body: JSON.stringify({ type: 'user', payload: { user_id: 'killed-when-due' }, delayMs: 1500 }),
    })
    expect(response.status).toBe(202)
    const { runAt } = (await response.json()) as { runAt: string }
    await doomed.waitForLog(/processing user job: killed-when-due, started/)
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(runAt))
    doomed.signal('SIGKILL')
    expect((await doomed.exited).signal).toBe('SIGKILL')

    const rescuer = await start('worker', { ...env, JOB_DURATION_MS: '50' })
    const status = await settled(ingress, 'killed-when-due', 'succeeded')
    // The wait before it was due is no attempt; the lost run is.
    expect(status.attempts).toBe(2)
    await rescuer.waitForLog(/processing user job: killed-when-due, finished/)
  })

  it('worker faults - SIGTERM: jobs in progress finish, the rest stay queued, exit 0, nothing lost', async () => {
    const env = queueEnv(server.url, { WORKER_CONCURRENCY: '2', QUEUE_ACK_WAIT_MS: '30000' })
    const ingress = await start('ingress', env)
    const draining = await start('worker', { ...env, JOB_DURATION_MS: '1500' })
    const ids = ['term-a', 'term-b', 'term-c', 'term-d', 'term-e']
    for (const id of ids) await submitJob(ingress, id)
    await eventually('two jobs running', () => ((draining.log().match(/, started/g) ?? []).length === 2 ? true : undefined))
    draining.signal('SIGTERM')
    expect(await draining.exited).toEqual({ code: 0, signal: null })
    // The two that were running finished before the exit.
    expect((draining.log().match(/, finished/g) ?? []).length).toBe(2)
    const finishedHere = ids.filter((id) => draining.log().includes(`processing user job: ${id}, finished`))
    expect(finishedHere).toHaveLength(2)

    // Those not started were handed back at once (not after ack_wait): a new worker runs them right away.
    await start('worker', { ...env, JOB_DURATION_MS: '10' })
    for (const id of ids) await settled(ingress, id, 'succeeded', 10_000)
  })

  it('worker faults - SIGTERM past WORKER_DRAIN_MS: the unfinished job is handed back and rerun at once', async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: '60000' })
    const ingress = await start('ingress', env)
    const slow = await start('worker', { ...env, JOB_DURATION_MS: '60000', WORKER_DRAIN_MS: '300' })
    await submitJob(ingress, 'too-slow')
    await slow.waitForLog(/processing user job: too-slow, started/)
    slow.signal('SIGTERM')
    expect(await slow.exited).toEqual({ code: 0, signal: null })
    await start('worker', { ...env, JOB_DURATION_MS: '10' })
    // Well inside the 60 s ack_wait: the job was nak'ed, not abandoned.
    const status = await settled(ingress, 'too-slow', 'succeeded', 15_000)
    expect(status.attempts).toBe(2)
  })

  it('worker faults - a worker lost on the last attempt: the job is moved to the dead letters, not left in the queue', async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: '1000', QUEUE_MAX_DELIVER: '1' })
    const ingress = await start('ingress', env)
    // Two workers: whichever takes the job is killed; the other one's reaper must file it.
    await start('worker', { ...env, JOB_DURATION_MS: '60000' })
    await start('worker', { ...env, JOB_DURATION_MS: '60000' })
    await submitJob(ingress, 'last-chance')
    await eventually('the job to start', () => (apps.some((app) => /last-chance, started/.test(app.log())) ? true : undefined))
    const runner = apps.find((app) => /last-chance, started/.test(app.log()))!
    runner.signal('SIGKILL')
    await runner.exited
    await settled(ingress, 'last-chance', 'dead', 15_000)
    const queue = (await (await fetch(`${ingress.baseUrl}/v1/queue`)).json()) as { depth: number }
    expect(queue.depth).toBe(0)
  })

  it('worker faults - the seed flow end to end across processes', async () => {
    const env = queueEnv(server.url)
    const ingress = await start('ingress', env)
    const worker = await start('worker', { ...env, JOB_DURATION_MS: '20' })
    await submitSeed(ingress, 'seed-user')
    await worker.waitForLog(/"msg":"processing user job: [A-Za-z0-9_-]+, started"/)
    await worker.waitForLog(/"msg":"processing user job: [A-Za-z0-9_-]+, finished"/)
    // The user id is a payload value: the info lines name the job, never it.
    expect(worker.log()).not.toContain('seed-user')
  })
})
