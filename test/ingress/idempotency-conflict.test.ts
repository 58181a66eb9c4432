import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const KEY_A = 'idempotency-key-a-Tq8wN3vR6yP1'

// No worker runs: the first submission stays stored, as it is while queued. Another key sending the same
// Idempotency-Key gets a job of its own (idempotency-scope.test.ts).
describe('idempotency conflict', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress

  beforeAll(async () => {
    const keys = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
    writeFileSync(keys, `${KEY_A}\n`)
    server = await startNatsServer()
    ingress = await startIngress(queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys }))
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  const submit = (key: string, id: string, body: unknown) =>
    ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': id },
      payload: body as object,
    })

  it('idempotency conflict - the same key repeating the same job is a duplicate; with another body or type it is 409', async () => {
    const first = await submit(KEY_A, 'order-2', { type: 'report', payload: { n: 1 } })
    expect(first.statusCode).toBe(202)
    const repeat = await submit(KEY_A, 'order-2', { type: 'report', payload: { n: 1 } })
    expect(repeat.statusCode).toBe(202)
    expect(repeat.json()).toMatchObject({ id: first.json().id, type: 'report', duplicate: true })
    expect((await submit(KEY_A, 'order-2', { type: 'report', payload: { n: 2 } })).statusCode).toBe(409)
    const otherType = await submit(KEY_A, 'order-2', { type: 'invoice', payload: { n: 1 } })
    expect(otherType.statusCode).toBe(409)
    expect(otherType.json().detail).not.toMatch(/invoice/)
  })
})
