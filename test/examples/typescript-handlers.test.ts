import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJob, settledJob } from '../support/job-api.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'
import { repoRoot } from '../support/repo-paths.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const example = join(repoRoot, 'examples', 'typescript-handlers')

// The example project as it ships: its handlers module and job types file, in a stock ingress and worker,
// each its own process against a real nats-server.
describe('examples/typescript-handlers', () => {
  let server: NatsServerFixture
  let ingress: AppProcess
  let worker: AppProcess
  let env: Env

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, {
      JOB_TYPES_FILE: join(example, 'job-types.json'),
      WORKER_HANDLERS_MODULE: join(example, 'handlers.ts'),
      JOB_RESULT_MAX_BYTES: '1024',
      QUEUE_MAX_DELIVER: '2',
      QUEUE_RETRY_BACKOFF_MS: '10',
      INGRESS_QUEUE_INFO_CACHE_MS: '0',
    })
    ingress = await startApp('ingress', env)
    worker = await startApp('worker', env)
  }, 60_000)
  afterAll(async () => {
    await worker?.stop()
    await ingress?.stop()
    await server?.close()
  })

  const submit = (type: string, payload: unknown) => postJob(ingress.baseUrl, type, payload)
  const settled = (id: string) => settledJob(ingress.baseUrl, id)

  it('examples - a job runs the handler of its type, and what the handler returned is its result', async () => {
    const accepted = await submit('greet', { name: 'Ada' })
    expect(accepted.status).toBe(202)
    const status = await settled(((await accepted.json()) as { id: string }).id)
    expect(status).toMatchObject({ state: 'succeeded', attempts: 1, result: { greeting: 'Hello, Ada!' } })
  })

  it("examples - a payload that breaks its type's schema is refused with 400 problem+json before it is queued", async () => {
    const refused = await submit('greet', { name: 42 })
    expect(refused.status).toBe(400)
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    const problem = (await refused.json()) as { detail: string }
    expect(problem.detail).toBe('body/payload/name must be string (the schema of job type "greet")')
    const depth = (await (await fetch(`${ingress.baseUrl}/v1/queue`)).json()) as { depth: number }
    expect(depth.depth).toBe(0)
  })

  it('examples - a type the job types file does not list is refused with 400 naming the known types', async () => {
    const refused = await submit('resize-image', {})
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { detail: string }).detail).toBe('unknown job type "resize-image"; the known types are: greet, word-count, echo')
  })

  it('examples - a PermanentJobError dead-letters the job at its first attempt, with its message as the error', async () => {
    const accepted = await submit('word-count', { text: '   ' })
    const status = await settled(((await accepted.json()) as { id: string }).id)
    expect(status).toMatchObject({ state: 'dead', attempts: 1, error: 'the text has no words' })
  })

  it('examples - a result over JOB_RESULT_MAX_BYTES fails each attempt, is never cut, and the job ends dead', async () => {
    const accepted = await submit('echo', { text: 'x'.repeat(2000) })
    const status = await settled(((await accepted.json()) as { id: string }).id)
    expect(status).toMatchObject({ state: 'dead', attempts: 2, error: 'the result is 2011 bytes of JSON, over JOB_RESULT_MAX_BYTES (1024)' })
    expect(status.result).toBeUndefined()
  })
})
