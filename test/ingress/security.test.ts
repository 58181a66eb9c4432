import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyRing } from '../../apps/ingress/src/auth/api-key-ring.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import { startApp } from '../support/sluice-processes.ts'

const SUBMIT_KEY = 'submit-and-read-key-0001'
const READ_KEY = 'read-only-key-7fQ2mX9pLw4Z'
const ADMIN_KEY = 'admin-only-key-Hc8vT3nR6yK1'
const json = { 'content-type': 'application/json' }
const job = { type: 'report', payload: { n: 1 } }

function keysFile(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

describe('security', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  const keys = keysFile(['# operators', SUBMIT_KEY, `${READ_KEY} read`, `${ADMIN_KEY} admin`])

  beforeAll(async () => {
    server = await startNatsServer()
    ingress = await startIngress(queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys, INGRESS_SEED_ROUTE: 'protected' }))
  })
  afterAll(async () => {
    await ingress?.close()
    await server?.close()
  })

  const post = (headers: Record<string, string>) => ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...json, ...headers }, payload: job })
  const get = (url: string, headers: Record<string, string> = {}) => ingress.app.inject({ method: 'GET', url, headers })

  it('security - no key or an unknown key is 401 problem+json with WWW-Authenticate', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer not-a-key-at-all-123' }, { 'x-api-key': 'nope' }, { authorization: 'Basic abc' }]
    for (const headers of attempts) {
      const response = await post(headers)
      expect(response.statusCode).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer realm="sluice"')
      expect(response.json()).toMatchObject({ type: 'urn:sluice:problem:unauthorized', status: 401 })
    }
  })

  it('security - a valid key works as a bearer token or X-API-Key', async () => {
    expect((await post({ authorization: `Bearer ${SUBMIT_KEY}` })).statusCode).toBe(202)
    // The scheme is case-insensitive (RFC 9110 11.1).
    expect((await post({ authorization: `bearer ${SUBMIT_KEY}` })).statusCode).toBe(202)
    expect((await post({ authorization: `BEARER  ${SUBMIT_KEY}` })).statusCode).toBe(202)
    expect((await post({ 'x-api-key': SUBMIT_KEY })).statusCode).toBe(202)
  })

  it("security - a key without the route's scope is 403", async () => {
    const readOnly = await post({ authorization: `Bearer ${READ_KEY}` })
    expect(readOnly.statusCode).toBe(403)
    expect(readOnly.json()).toMatchObject({ type: 'urn:sluice:problem:forbidden' })
    expect((await get('/v1/queue', { authorization: `Bearer ${READ_KEY}` })).statusCode).toBe(200)
    expect((await get('/v1/dead-letters', { authorization: `Bearer ${SUBMIT_KEY}` })).statusCode).toBe(403)
    expect((await get('/v1/dead-letters', { authorization: `Bearer ${ADMIN_KEY}` })).statusCode).toBe(200)
  })

  it('security - probes, metrics and the API document need no key', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) expect((await get(url)).statusCode).toBe(200)
  })

  it('security - the seed route can be protected', async () => {
    expect((await get('/?user_id=1')).statusCode).toBe(401)
    expect((await get('/?user_id=1', { authorization: `Bearer ${SUBMIT_KEY}` })).statusCode).toBe(200)
  })

  it('security - answers carry security headers', async () => {
    const response = await get('/healthz')
    expect(response.headers['x-content-type-options']).toBe('nosniff')
    expect(response.headers['x-frame-options']).toBeDefined()
    expect(response.headers['strict-transport-security']).toBeDefined()
  })

  it('security - keys are compared by digest and re-read from the file', () => {
    const path = keysFile([SUBMIT_KEY])
    const ring = new ApiKeyRing(path)
    expect(ring.find(SUBMIT_KEY)?.scopes).toEqual(new Set(['submit', 'read']))
    expect(ring.find(`${SUBMIT_KEY}x`)).toBeUndefined()
    writeFileSync(path, `${READ_KEY} read\n`)
    expect(ring.reload()).toBeUndefined()
    expect(ring.find(SUBMIT_KEY)).toBeUndefined()
    expect(ring.find(READ_KEY)?.scopes).toEqual(new Set(['read']))
    writeFileSync(path, 'short\n')
    expect(ring.reload()?.message).toMatch(/line 1/)
    // A broken file leaves no key valid (fail closed; api-key-reload.test.ts shows readiness and the metric).
    expect(ring.find(READ_KEY)).toBeUndefined()
    expect(ring.problem).toMatch(/could not be read or is invalid/)
  })
})

describe('limits', () => {
  let server: NatsServerFixture
  let limited: InProcessIngress
  let ingress: InProcessIngress

  beforeAll(async () => {
    server = await startNatsServer()
    limited = await startIngress(queueEnv(server.url, { INGRESS_RATE_LIMIT_PER_SECOND: '5' }))
    ingress = await startIngress(queueEnv(server.url, { JOB_MAX_DEPTH: '10' }))
  })
  afterAll(async () => {
    await limited?.close()
    await ingress?.close()
    await server?.close()
  })

  const nested = (depth: number) => `{"type":"t","payload":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`

  it('limits - a client past its rate gets 429 with Retry-After; probes are not limited', async () => {
    const answers = []
    for (let i = 0; i < 8; i++) answers.push(await limited.app.inject({ method: 'GET', url: '/v1/queue' }))
    const refused = answers.filter((answer) => answer.statusCode === 429)
    expect(refused.length).toBeGreaterThan(0)
    expect(refused[0]!.headers['retry-after']).toBeDefined()
    expect(refused[0]!.json()).toMatchObject({ type: 'urn:sluice:problem:rate-limited', status: 429 })
    for (let i = 0; i < 8; i++) expect((await limited.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('limits - JSON nested deeper than JOB_MAX_DEPTH is 400 before it is parsed', async () => {
    const deep = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: nested(11) })
    expect(deep.statusCode).toBe(400)
    expect(deep.json().detail).toMatch(/JOB_MAX_DEPTH/)
    const fine = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: nested(10) })
    expect(fine.statusCode).toBe(202)
  })
})

describe('logs', () => {
  it('logs - neither keys nor payloads are written, even at debug level', async () => {
    const server = await startNatsServer()
    const keys = keysFile([SUBMIT_KEY])
    const ingress = await startApp('ingress', queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys }), 'debug')
    try {
      await fetch(`${ingress.baseUrl}/v1/jobs`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${SUBMIT_KEY}` },
        body: JSON.stringify({ type: 't', payload: { card: 'secret-payload-4242' } }),
      })
      await fetch(`${ingress.baseUrl}/v1/jobs`, { method: 'POST', headers: { ...json, authorization: 'Bearer wrong-key-9999999999' }, body: '{}' })
    } finally {
      await ingress.stop()
      await server.close()
    }
    const log = ingress.log()
    expect(log).toMatch(/request completed|request refused/)
    expect(log).not.toContain(SUBMIT_KEY)
    expect(log).not.toContain('wrong-key-9999999999')
    expect(log).not.toContain('secret-payload-4242')
  })
})
