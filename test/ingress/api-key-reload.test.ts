import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const KEY = 'reload-key-one-Bv6nQ2xT8mK4'
const OTHER = 'reload-key-two-Jr3wZ7pL5cN9'

// Fail closed: a keys file that cannot be read, is invalid or empty leaves no key valid, fails /readyz (on
// both ports) and shows 0 in sluice_ingress_api_keys; a good file brings everything back.
describe('api key reload', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
  const queue = (key: string) => ingress.app.inject({ method: 'GET', url: '/v1/queue', headers: { authorization: `Bearer ${key}` } })
  const ready = async () => (await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode
  const keysGauge = async () => /sluice_ingress_api_keys (\d+)/.exec((await ingress.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1]

  beforeAll(async () => {
    writeFileSync(path, `${KEY}\n${OTHER}\n`)
    server = await startNatsServer()
    ingress = await startIngress(queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: path }))
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  it('api key reload - a revocation with a typo leaves no key valid and fails readiness, until the file is fixed', async () => {
    expect((await queue(KEY)).statusCode).toBe(200)
    expect(await keysGauge()).toBe('2')
    // Meant to revoke OTHER, but the scope is mistyped.
    writeFileSync(path, `${KEY} sumbit\n`)
    ingress.reloadApiKeys()
    expect((await queue(OTHER)).statusCode).toBe(401)
    expect((await queue(KEY)).statusCode).toBe(401)
    expect(await ready()).toBe(503)
    expect((await ingress.readinessProblems()).join()).toMatch(/API keys file/)
    expect(await keysGauge()).toBe('0')
    writeFileSync(path, `${KEY}\n`)
    ingress.reloadApiKeys()
    expect((await queue(KEY)).statusCode).toBe(200)
    expect((await queue(OTHER)).statusCode).toBe(401)
    expect(await ready()).toBe(200)
  })

  it('api key reload - a deleted or empty keys file leaves no key valid and fails readiness', async () => {
    rmSync(path)
    ingress.reloadApiKeys()
    expect((await queue(KEY)).statusCode).toBe(401)
    expect(await ready()).toBe(503)
    writeFileSync(path, '# nothing yet\n')
    ingress.reloadApiKeys()
    expect((await queue(KEY)).statusCode).toBe(401)
    expect(await ready()).toBe(503)
    expect(await keysGauge()).toBe('0')
    writeFileSync(path, `${KEY}\n`)
    ingress.reloadApiKeys()
    expect(await ready()).toBe(200)
  })
})
