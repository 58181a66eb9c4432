import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const PUBLISH_TIMEOUT_MS = 1000
const json = { 'content-type': 'application/json' }
const server = await startNatsServer()

// Stopping and pausing the server needs our own process; an external NATS_URL cannot be faulted.
describe.skipIf(!server.controllable)(`nats outage${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  let ingress: InProcessIngress

  beforeAll(async () => {
    ingress = await startIngress(
      queueEnv(server.url, { INGRESS_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS), INGRESS_MAX_INFLIGHT: '2', INGRESS_QUEUE_INFO_CACHE_MS: '0' }),
    )
  })
  afterAll(async () => {
    server.resume()
    await ingress?.close()
    await server.close()
  })

  const submit = (key?: string) =>
    ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: key ? { ...json, 'idempotency-key': key } : json, payload: { type: 't', payload: {} } })

  it('nats outage - a hung server: publishes time out as 503 within the bound, and the in-flight cap answers 503 at once', async () => {
    server.pause()
    try {
      const started = Date.now()
      const hanging = [submit(), submit()]
      // Both slots are taken by publishes the hung server will never confirm.
      await eventually('two publishes in flight', () => (ingress.app.queue.publisher.inflight === 2 ? true : undefined))
      const busy = await submit()
      expect(busy.statusCode).toBe(503)
      expect(busy.json().type).toBe('urn:sluice:problem:ingress-busy')
      expect(busy.headers['retry-after']).toBeDefined()
      expect(Date.now() - started).toBeLessThan(PUBLISH_TIMEOUT_MS)

      for (const answer of await Promise.all(hanging)) {
        expect(answer.statusCode).toBe(503)
        expect(answer.json().detail).toMatch(/did not confirm the job in time/)
      }
      // Bounded: the timeout plus a scheduling margin, never an indefinite hang.
      expect(Date.now() - started).toBeLessThan(PUBLISH_TIMEOUT_MS + 1500)
    } finally {
      server.resume()
    }
  })

  it('nats outage - a stopped server: 503 without waiting, readiness fails, and both recover when it returns', async () => {
    expect((await submit('before-outage')).statusCode).toBe(202)
    await server.stop()
    await eventually('readiness to fail', async () => ((await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 503 ? true : undefined))

    const started = Date.now()
    const refused = await submit()
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(refused.json().type).toBe('urn:sluice:problem:queue-unavailable')
    expect(Date.now() - started).toBeLessThan(PUBLISH_TIMEOUT_MS)
    expect((await ingress.app.inject({ method: 'GET', url: '/v1/queue' })).statusCode).toBe(503)

    await server.restart()
    const accepted = await eventually('a job accepted after NATS returned', async () => {
      const answer = await submit('after-outage')
      return answer.statusCode === 202 ? answer : undefined
    })
    expect(accepted.json().id).toBe('after-outage')
    expect((await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    // The job accepted before the outage survived the restart (file storage).
    const before = await ingress.app.inject({ method: 'GET', url: '/v1/jobs/before-outage' })
    expect(before.json()).toMatchObject({ state: 'queued' })
  })
})
