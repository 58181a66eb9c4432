import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }
const SUBMIT_KEY = 'batch-submit-key-R4tW8yU2iO6p'
const READ_KEY = 'batch-read-key-Z1xC5vB9nM3q'

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-batch-')), name)
  writeFileSync(path, text)
  return path
}

interface ItemResult {
  status: number
  id?: string
  type?: string
  queuedAt?: string
  duplicate?: boolean
  problem?: { type: string; title: string; status: number; detail: string }
}

// `POST /v1/jobs/batch` against a real nats-server: a result per job, each reported stored only when the
// stream holds it, the queue's bound kept job by job, and the request-level guards of `POST /v1/jobs`.
describe('batch submission', () => {
  let server: NatsServerFixture
  const ingresses: InProcessIngress[] = []

  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterAll(async () => {
    for (const ingress of ingresses) await ingress.close()
    await server?.close()
  })

  async function ingressFor(overrides: Env): Promise<{ ingress: InProcessIngress; env: Env; jsm: JetStreamManager }> {
    const env = queueEnv(server.url, overrides)
    const ingress = await startIngress(env)
    ingresses.push(ingress)
    return { ingress, env, jsm: await jetstreamManager(ingress.nats.nc) }
  }

  const submit = (ingress: InProcessIngress, payload: unknown, headers: Record<string, string> = {}) =>
    ingress.app.inject({ method: 'POST', url: '/v1/jobs/batch', headers: { ...json, ...headers }, payload: payload as object })

  it('batch submission - stores every job and answers one result per job, in order, each readable', async () => {
    const { ingress, env, jsm } = await ingressFor({})
    const jobs = Array.from({ length: 5 }, (_, i) => ({ type: 'report', payload: { n: i } }))
    const response = await submit(ingress, { jobs })
    expect(response.statusCode).toBe(200)
    const body = response.json() as { accepted: number; refused: number; results: ItemResult[] }
    expect(body).toMatchObject({ accepted: 5, refused: 0 })
    expect(body.results.map((result) => result.status)).toEqual([202, 202, 202, 202, 202])
    expect(new Set(body.results.map((result) => result.id)).size).toBe(5)
    expect(response.headers['retry-after']).toBeUndefined()
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(5)
    for (const [i, result] of body.results.entries()) {
      expect(result).toMatchObject({ type: 'report', duplicate: false })
      const status = await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${result.id}` })
      expect(status.json()).toMatchObject({ id: result.id, state: 'queued', queuedAt: result.queuedAt })
      // In order: the stored message of result i carries payload i.
      const stored = await jsm.streams.getMessage(env.QUEUE_STREAM!, { last_by_subj: `${env.QUEUE_SUBJECT_PREFIX}.${result.id}` })
      expect(stored!.json()).toEqual({ n: i })
    }
  })

  it('batch submission - past the queue capacity each further job gets its own 503 and the stream holds the bound', async () => {
    const { ingress, env, jsm } = await ingressFor({ QUEUE_MAX_MESSAGES: '3' })
    const response = await submit(ingress, { jobs: Array.from({ length: 7 }, (_, i) => ({ type: 'report', payload: { n: i } })) })
    expect(response.statusCode).toBe(200)
    const { accepted, refused, results } = response.json() as { accepted: number; refused: number; results: ItemResult[] }
    expect(accepted).toBe(3)
    expect(refused).toBe(4)
    for (const result of results.filter((each) => each.status !== 202)) {
      expect(result.status).toBe(503)
      expect(result.problem).toMatchObject({ type: 'urn:sluice:problem:queue-full', status: 503 })
      expect(result.id).toBeUndefined()
    }
    expect(response.headers['retry-after']).toBeDefined()
    // Reported stored only if stored: exactly the 202 ids are in the stream, and never more than the bound.
    const info = await jsm.streams.info(env.QUEUE_STREAM!, { subjects_filter: '>' })
    expect(info.state.messages).toBe(3)
    const storedIds = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(env.QUEUE_SUBJECT_PREFIX!.length + 1))
    expect(storedIds.sort()).toEqual(
      results
        .filter((each) => each.status === 202)
        .map((each) => each.id)
        .sort(),
    )
  })

  it('batch submission - an id is the job Idempotency-Key: a repeat is a duplicate, another job under it a 409 of its own', async () => {
    const { ingress, env, jsm } = await ingressFor({})
    const first = await submit(ingress, { jobs: [{ id: 'order-1', type: 'charge', payload: { cents: 100 } }] })
    expect(first.json().results[0]).toMatchObject({ status: 202, id: 'order-1', duplicate: false })
    const again = await submit(ingress, {
      jobs: [
        { id: 'order-1', type: 'charge', payload: { cents: 100 } },
        { id: 'order-1', type: 'charge', payload: { cents: 999 } },
        { id: 'order-2', type: 'charge', payload: { cents: 5 } },
      ],
    })
    const results = again.json().results as ItemResult[]
    expect(results[0]).toMatchObject({ status: 202, id: 'order-1', duplicate: true, queuedAt: first.json().results[0].queuedAt })
    expect(results[1]).toMatchObject({ status: 409, problem: { type: 'urn:sluice:problem:idempotency-conflict' } })
    expect(results[2]).toMatchObject({ status: 202, id: 'order-2', duplicate: false })
    expect(again.json()).toMatchObject({ accepted: 2, refused: 1 })
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(2)
  })

  it('batch submission - a job JOB_TYPES_FILE refuses gets its own 400; the others are stored', async () => {
    const types = tempFile(
      'job-types.json',
      JSON.stringify({ types: { greet: { payload: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } } }),
    )
    const { ingress, env, jsm } = await ingressFor({ JOB_TYPES_FILE: types })
    const response = await submit(ingress, {
      jobs: [
        { type: 'greet', payload: { name: 'Ada' } },
        { type: 'unknown', payload: {} },
        { type: 'greet', payload: { nom: 'Ada' } },
      ],
    })
    const results = response.json().results as ItemResult[]
    expect(results.map((result) => result.status)).toEqual([202, 400, 400])
    expect(results[1]!.problem!.detail).toMatch(/unknown job type "unknown"/)
    expect(results[2]!.problem!.detail).toMatch(/name/)
    // Refused for good: no Retry-After.
    expect(response.headers['retry-after']).toBeUndefined()
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(1)
  })

  it("batch submission - a callbackUrl is taken per job as on POST /v1/jobs; one that climbs out of its allowed prefix is that job's 400", async () => {
    const { ingress, env, jsm } = await ingressFor({ JOB_CALLBACK_ALLOWED_URLS: 'https://hooks.example.com/sluice/' })
    const response = await submit(ingress, {
      jobs: [
        { type: 'report', payload: {}, callbackUrl: 'https://hooks.example.com/sluice/done' },
        { type: 'report', payload: {}, callbackUrl: 'https://hooks.example.com/sluice/../admin' },
        { type: 'report', payload: {} },
      ],
    })
    const results = response.json().results as ItemResult[]
    expect(results.map((result) => result.status)).toEqual([202, 400, 202])
    expect(results[1]!.problem!.detail).toMatch(/^body\/callbackUrl leaves the allowed URL prefix/)
    const stored = await jsm.streams.getMessage(env.QUEUE_STREAM!, { last_by_subj: `${env.QUEUE_SUBJECT_PREFIX}.${results[0]!.id}` })
    expect(stored!.header.get('Sluice-Callback-Url')).toBe('https://hooks.example.com/sluice/done')
    // Where callbacks are off, the field is unknown, as on POST /v1/jobs: the batch is refused whole.
    const { ingress: off } = await ingressFor({})
    const unknown = await submit(off, { jobs: [{ type: 'report', payload: {}, callbackUrl: 'https://hooks.example.com/sluice/done' }] })
    expect(unknown.statusCode).toBe(400)
  })

  it("batch submission - a job may be scheduled (delayMs, runAt) as on POST /v1/jobs; a runAt long past is that job's 400", async () => {
    const { ingress, env, jsm } = await ingressFor({})
    const before = Date.now()
    const response = await submit(ingress, {
      jobs: [
        { type: 'report', payload: {}, delayMs: 60_000 },
        { type: 'report', payload: {}, runAt: new Date(before - 3_600_000).toISOString() },
        { type: 'report', payload: {} },
      ],
    })
    const results = response.json().results as (ItemResult & { runAt?: string })[]
    expect(results.map((result) => result.status)).toEqual([202, 400, 202])
    expect(Date.parse(results[0]!.runAt!)).toBeGreaterThanOrEqual(before + 60_000)
    expect(results[1]!.problem!.detail).toMatch(/in the past/)
    expect(results[2]!.runAt).toBeUndefined()
    const status = await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${results[0]!.id}` })
    expect(status.json()).toMatchObject({ state: 'scheduled', runAt: results[0]!.runAt })
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(2)
    // Both at once is the schema's refusal, for the whole batch.
    expect((await submit(ingress, { jobs: [{ type: 'report', payload: {}, delayMs: 1, runAt: new Date().toISOString() }] })).statusCode).toBe(400)
  })

  it('batch submission - a malformed, empty, oversized or non-JSON batch is refused whole and stores nothing', async () => {
    const { ingress, env, jsm } = await ingressFor({ INGRESS_BATCH_MAX_JOBS: '4', JOB_MAX_BYTES: '2048' })
    const job = { type: 'report', payload: {} }
    const cases: [string, Awaited<ReturnType<typeof submit>>, number][] = [
      ['more jobs than INGRESS_BATCH_MAX_JOBS', await submit(ingress, { jobs: [job, job, job, job, job] }), 400],
      ['no jobs', await submit(ingress, { jobs: [] }), 400],
      ['a job with an unknown field', await submit(ingress, { jobs: [job, { ...job, priority: 1 }] }), 400],
      ['a job id that is no job id', await submit(ingress, { jobs: [{ ...job, id: 'a b' }] }), 400],
      ['a body over JOB_MAX_BYTES', await submit(ingress, { jobs: [{ type: 'report', payload: 'x'.repeat(3000) }] }), 413],
      [
        'text/plain',
        await ingress.app.inject({ method: 'POST', url: '/v1/jobs/batch', headers: { 'content-type': 'text/plain' }, payload: '{"jobs":[]}' }),
        415,
      ],
    ]
    for (const [what, response, status] of cases) {
      expect(response.statusCode, what).toBe(status)
      expect(response.headers['content-type'], what).toMatch(/^application\/problem\+json/)
    }
    expect(cases[0]![1].json().detail).toMatch(/jobs must NOT have more than 4 items/)
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(0)
  })

  it('batch submission - while the queue is known full the whole batch is shed as one 503, stores nothing', async () => {
    const { ingress, env, jsm } = await ingressFor({ QUEUE_MAX_MESSAGES: '1' })
    await submit(ingress, {
      jobs: [
        { type: 'report', payload: {} },
        { type: 'report', payload: {} },
      ],
    })
    // The second job met the full queue: for the next FULL_HOLD_MS the ingress refuses without asking.
    const shed = await submit(ingress, { jobs: [{ type: 'report', payload: {} }] })
    expect(shed.statusCode).toBe(503)
    expect(shed.json()).toMatchObject({ type: 'urn:sluice:problem:queue-full' })
    expect(shed.headers['retry-after']).toBeDefined()
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(1)
  })

  it('batch submission - needs an API key with the submit scope, records the key as owner of each job and scopes its ids to it', async () => {
    const keys = tempFile('keys', `${SUBMIT_KEY}\n${READ_KEY} read\n`)
    const { ingress } = await ingressFor({ INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys })
    const jobs = [{ type: 'report', payload: {} }]
    expect((await submit(ingress, { jobs })).statusCode).toBe(401)
    expect((await submit(ingress, { jobs }, { authorization: `Bearer ${READ_KEY}` })).statusCode).toBe(403)
    const stored = await submit(ingress, { jobs }, { authorization: `Bearer ${SUBMIT_KEY}` })
    expect(stored.statusCode).toBe(200)
    const id = stored.json().results[0].id as string
    expect((await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: { authorization: `Bearer ${SUBMIT_KEY}` } })).statusCode).toBe(200)
    // Another key does not see it, as for a job from POST /v1/jobs.
    expect((await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: { authorization: `Bearer ${READ_KEY}` } })).statusCode).toBe(404)
    // A job's id is the key's own Idempotency-Key, as on POST /v1/jobs: `<label>-<id>`.
    const keyed = await submit(ingress, { jobs: [{ id: 'order-7', type: 'report', payload: {} }] }, { authorization: `Bearer ${SUBMIT_KEY}` })
    expect(keyed.json().results[0]).toMatchObject({ status: 202, duplicate: false })
    expect(keyed.json().results[0].id).toMatch(/^[0-9a-f]{8}-order-7$/)
  })

  it('batch submission - a batch is one request for the rate limit', async () => {
    const { ingress, env, jsm } = await ingressFor({ INGRESS_RATE_LIMIT_PER_SECOND: '2' })
    const jobs = Array.from({ length: 10 }, () => ({ type: 'report', payload: {} }))
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await submit(ingress, { jobs })).statusCode)
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(2)
    expect(statuses).toContain(429)
    expect((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages).toBe(10 * statuses.filter((status) => status === 200).length)
  })
})
