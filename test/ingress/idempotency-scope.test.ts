import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JOB_ID_PATTERN } from '@sluice/core'
import { defineHandler, handlerRegistry } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'

const KEY_A = 'idempotency-scope-a-Tq8wN3vR6yP1'
const KEY_B = 'idempotency-scope-b-Lm2xK7cZ4sH9'

// With API keys on, an Idempotency-Key is the caller's own: another key sending the same one gets a job of
// its own, so it can neither suppress another key's job nor learn that the key is in use. The first cases
// run before any worker (the first job stays queued, its fingerprint stored); the last with one.
describe('idempotency scope', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker | undefined
  let env: Env

  beforeAll(async () => {
    const keys = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
    writeFileSync(keys, `${KEY_A}\n${KEY_B}\n`)
    server = await startNatsServer()
    env = queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys })
    ingress = await startIngress(env)
  })
  afterAll(async () => {
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  const auth = (key: string) => ({ authorization: `Bearer ${key}` })
  const submit = (key: string, idempotencyKey: string, body: { type: string; payload: unknown }) =>
    ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...auth(key), 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      payload: body,
    })
  const request = (key: string, method: 'GET' | 'DELETE', url: string) => ingress.app.inject({ method, url, headers: auth(key) })

  it('idempotency scope - another key sending the same Idempotency-Key gets a job of its own (202, another id), not a 409 that says the key is in use', async () => {
    const first = await submit(KEY_A, 'order-1', { type: 'report', payload: { n: 1 } })
    expect(first.statusCode).toBe(202)
    const a = first.json()
    expect(a).toMatchObject({ type: 'report', duplicate: false })
    expect(first.headers.location).toBe(`/v1/jobs/${a.id}`)

    // The same body, then another: neither is refused nor taken for a duplicate.
    const second = await submit(KEY_B, 'order-1', { type: 'report', payload: { n: 1 } })
    expect(second.statusCode).toBe(202)
    const b = second.json()
    expect(b).toMatchObject({ type: 'report', duplicate: false })
    expect(b.id).not.toBe(a.id)
    const third = await submit(KEY_B, 'order-2', { type: 'invoice', payload: {} })
    expect(third.statusCode).toBe(202)
    expect((await submit(KEY_A, 'order-2', { type: 'report', payload: {} })).json()).toMatchObject({ type: 'report', duplicate: false })

    // Each key reads its own job, and the other's is unknown to it, by either id.
    expect((await request(KEY_A, 'GET', `/v1/jobs/${a.id}`)).json()).toMatchObject({ id: a.id, type: 'report', state: 'queued' })
    expect((await request(KEY_B, 'GET', `/v1/jobs/${third.json().id}`)).json()).toMatchObject({ type: 'invoice', state: 'queued' })
    expect((await request(KEY_B, 'GET', `/v1/jobs/${a.id}`)).statusCode).toBe(404)
    expect((await request(KEY_B, 'GET', '/v1/jobs/order-1')).statusCode).toBe(404)
    expect((await request(KEY_B, 'DELETE', '/v1/jobs/order-1')).statusCode).toBe(404)
    expect((await request(KEY_A, 'GET', `/v1/jobs/${a.id}`)).json()).toMatchObject({ state: 'queued' })
  })

  it('idempotency scope - the same key repeating a job gets its id back as a duplicate, and with another payload 409', async () => {
    const first = (await submit(KEY_A, 'order-3', { type: 'report', payload: { n: 1 } })).json()
    const repeat = await submit(KEY_A, 'order-3', { type: 'report', payload: { n: 1 } })
    expect(repeat.statusCode).toBe(202)
    expect(repeat.json()).toMatchObject({ id: first.id, type: 'report', queuedAt: first.queuedAt, duplicate: true })
    const reused = await submit(KEY_A, 'order-3', { type: 'report', payload: { n: 2 } })
    expect(reused.statusCode).toBe(409)
    expect(reused.json()).toMatchObject({ type: 'urn:sluice:problem:idempotency-conflict', status: 409 })
  })

  it('idempotency scope - a 128-character Idempotency-Key still makes a valid job id of its own per key, and repeats de-duplicate', async () => {
    const long = `${'k'.repeat(100)}-${'x'.repeat(27)}`
    expect(long).toHaveLength(128)
    const a = await submit(KEY_A, long, { type: 'report', payload: {} })
    expect(a.statusCode).toBe(202)
    expect(a.json().id).toMatch(JOB_ID_PATTERN)
    expect((await request(KEY_A, 'GET', `/v1/jobs/${a.json().id}`)).statusCode).toBe(200)
    expect((await submit(KEY_A, long, { type: 'report', payload: {} })).json()).toMatchObject({ id: a.json().id, duplicate: true })
    const b = await submit(KEY_B, long, { type: 'report', payload: {} })
    expect(b.json()).toMatchObject({ duplicate: false })
    expect(b.json().id).not.toBe(a.json().id)
    // Two long keys alike in their first 100 characters are two jobs.
    const near = await submit(KEY_A, `${'k'.repeat(100)}-${'y'.repeat(27)}`, { type: 'report', payload: {} })
    expect(near.json()).toMatchObject({ duplicate: false })
    expect(near.json().id).not.toBe(a.json().id)
  })

  it("idempotency scope - once a worker took a key's job, another key sending its Idempotency-Key still gets its job run, not dropped as a duplicate", async () => {
    worker = await startWorker(env, handlerRegistry([defineHandler('echo', async (payload) => payload)]))
    const first = (await submit(KEY_A, 'taken-1', { type: 'echo', payload: { from: 'a' } })).json()
    await eventually('the first job succeeded', async () =>
      (await request(KEY_A, 'GET', `/v1/jobs/${first.id}`)).json().state === 'succeeded' ? true : undefined,
    )
    // The message is gone from the stream: nothing tells the other key's job apart from a repeat but its id.
    const other = await submit(KEY_B, 'taken-1', { type: 'echo', payload: { from: 'b' } })
    expect(other.statusCode).toBe(202)
    expect(other.json()).toMatchObject({ duplicate: false })
    const done = await eventually("the other key's job succeeded", async () => {
      const status = (await request(KEY_B, 'GET', `/v1/jobs/${other.json().id}`)).json()
      return status.state === 'succeeded' ? status : undefined
    })
    expect(done.result).toEqual({ from: 'b' })
    expect((await request(KEY_A, 'GET', `/v1/jobs/${first.id}`)).json().result).toEqual({ from: 'a' })
  })
})
