import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { headers } from '@nats-io/nats-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'

// No worker runs here: a redriven job stays in the queue, where the tests count it.
describe('dead-letter redrive', () => {
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

  async function ingressFor(overrides: Env = {}): Promise<{ ingress: InProcessIngress; env: Env; jsm: JetStreamManager }> {
    const env = queueEnv(server.url, { INGRESS_REDRIVE_RATE_PER_SECOND: '200', ...overrides })
    const ingress = await startIngress(env)
    cleanups.push(() => ingress.close())
    return { ingress, env, jsm: await jetstreamManager(ingress.nats.nc) }
  }

  // Dead letters as a worker files them, without running the jobs.
  async function fileDeadLetters(ingress: InProcessIngress, env: Env, ids: readonly string[]): Promise<void> {
    const js = jetstream(ingress.nats.nc)
    for (const [i, id] of ids.entries()) {
      const h = headers()
      h.set('Nats-Msg-Id', `${id}-${i + 1}`)
      h.set('Sluice-Job-Type', 'report')
      h.set('Sluice-Queued-At', new Date().toISOString())
      h.set('Sluice-Error', 'report service is down')
      h.set('Sluice-Attempts', '3')
      h.set('Sluice-Dead-At', new Date().toISOString())
      await js.publish(`${env.QUEUE_DLQ_SUBJECT_PREFIX}.${id}`, new TextEncoder().encode(JSON.stringify({ id })), { headers: h })
    }
  }

  async function messagesIn(jsm: JetStreamManager, stream: string): Promise<number> {
    return (await jsm.streams.info(stream)).state.messages
  }

  function redriveOne(ingress: InProcessIngress, id: string) {
    return ingress.app.inject({ method: 'POST', url: `/v1/dead-letters/${id}/redrive` })
  }

  it('dead-letter redrive - overlapping redrives of one job put it back once: one 202, the others 409 problem+json, never a 500', async () => {
    const { ingress, env, jsm } = await ingressFor()
    await fileDeadLetters(ingress, env, ['overlap'])
    const answers = await Promise.all(Array.from({ length: 5 }, () => redriveOne(ingress, 'overlap')))
    const codes = answers.map((answer) => answer.statusCode)
    expect(codes.filter((code) => code === 202)).toHaveLength(1)
    // A request that read the dead letter before another removed it is told so (409); one that came after
    // finds no dead letter (404).
    expect(codes.filter((code) => code !== 202 && code !== 409 && code !== 404)).toEqual([])
    expect(codes).toContain(409)
    const conflict = answers.find((answer) => answer.statusCode === 409)!
    expect(conflict.headers['content-type']).toMatch(/problem\+json/)
    expect(conflict.json()).toMatchObject({ type: 'urn:sluice:problem:already-redriven', status: 409 })
    expect(answers.find((answer) => answer.statusCode === 202)!.json()).toEqual({ id: 'overlap', redriven: true })
    expect(await messagesIn(jsm, env.QUEUE_STREAM!)).toBe(1)
    expect(await messagesIn(jsm, env.QUEUE_DLQ_STREAM!)).toBe(0)
  })
})
