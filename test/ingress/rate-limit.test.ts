import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseKeys } from '../../apps/ingress/src/auth/api-key-ring.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const SUBMIT_KEY = 'rate-limit-submit-key-7Hq2xVn9pLw4'

function keysFile(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

describe('rate limit', () => {
  let server: NatsServerFixture
  let keyed: InProcessIngress

  beforeAll(async () => {
    server = await startNatsServer()
    keyed = await startIngress(
      queueEnv(server.url, {
        INGRESS_AUTH: 'api-key',
        INGRESS_API_KEYS_FILE: keysFile([SUBMIT_KEY]),
        INGRESS_SEED_ROUTE: 'open',
        INGRESS_RATE_LIMIT_PER_SECOND: '5',
      }),
    )
  })
  afterAll(async () => {
    await keyed?.close()
    await server?.close()
  })

  it('rate limit - the open seed route is limited per address, with API keys on', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) statuses.push((await keyed.app.inject({ method: 'GET', url: `/?user_id=u${i}` })).statusCode)
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(5)
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(15)
  })
})

describe('auth failures', () => {
  let server: NatsServerFixture
  let keyed: InProcessIngress

  beforeAll(async () => {
    server = await startNatsServer()
    keyed = await startIngress(queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keysFile([SUBMIT_KEY]) }))
  })
  afterAll(async () => {
    await keyed?.close()
    await server?.close()
  })

  it('auth failures - an address that keeps failing to authenticate gets 429 with Retry-After, even with a valid key then', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 40; i++) {
      const answer = await keyed.app.inject({ method: 'GET', url: '/v1/queue', headers: { authorization: `Bearer guess-${i}-aaaaaaaaaaaaaaaaaaaaaaaa` } })
      statuses.push(answer.statusCode)
    }
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(20)
    expect(statuses.at(-1)).toBe(429)
    const blocked = await keyed.app.inject({ method: 'GET', url: '/v1/queue', headers: { authorization: `Bearer ${SUBMIT_KEY}` } })
    expect(blocked.statusCode).toBe(429)
    expect(blocked.headers['retry-after']).toBeDefined()
    // Another address is not affected.
    const other = await keyed.app.inject({ method: 'GET', url: '/v1/queue', remoteAddress: '10.0.0.9', headers: { authorization: `Bearer ${SUBMIT_KEY}` } })
    expect(other.statusCode).toBe(200)
  })

  it('auth failures - the OpenAPI document lists that 429 on every route that needs a key, with no rate limit set', async () => {
    const document = (await keyed.app.inject({ method: 'GET', url: '/openapi.json', remoteAddress: '10.0.0.10' })).json()
    expect(Object.keys(document.paths['/v1/queue'].get.responses)).toContain('429')
    expect(Object.keys(document.paths['/v1/jobs'].post.responses)).toContain('429')
  })
})

describe('key strength', () => {
  it('key strength - short or low-entropy keys are refused when the keys file is read, naming the line but not the key', () => {
    for (const weak of ['abcdefghijklmnop', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '0101010101010101010101010101']) {
      expect(() => parseKeys(`${weak}\n`)).toThrow(/line 1/)
      try {
        parseKeys(`${weak}\n`)
      } catch (error) {
        expect(String((error as Error).message)).not.toContain(weak)
      }
    }
    expect(parseKeys(`${SUBMIT_KEY}\n`)).toHaveLength(1)
  })
})

describe('rate limit counting', () => {
  let server: NatsServerFixture
  let direct: InProcessIngress
  let proxied: InProcessIngress

  beforeAll(async () => {
    server = await startNatsServer()
    direct = await startIngress(queueEnv(server.url, { INGRESS_RATE_LIMIT_PER_SECOND: '20' }))
    proxied = await startIngress(queueEnv(server.url, { INGRESS_RATE_LIMIT_PER_SECOND: '20', INGRESS_TRUST_PROXY: '127.0.0.1/32' }))
  })
  afterAll(async () => {
    await direct?.close()
    await proxied?.close()
    await server?.close()
  })

  const burst = (ingress: InProcessIngress, count: number, request: (i: number) => { remoteAddress?: string; headers?: Record<string, string> } = () => ({})) =>
    Promise.all(Array.from({ length: count }, (_, i) => ingress.app.inject({ method: 'GET', url: '/openapi.json', ...request(i) }))).then((answers) =>
      answers.map((answer) => answer.statusCode),
    )

  it('rate limit counting - a concurrent burst one over the limit gets exactly one 429', async () => {
    const statuses = await burst(direct, 21, () => ({ remoteAddress: '192.0.2.1' }))
    expect(statuses.filter((status) => status === 429)).toHaveLength(1)
    expect(statuses.filter((status) => status === 200)).toHaveLength(20)
  })

  it('rate limit counting - the addresses of one IPv6 /64 share a bucket', async () => {
    const statuses = await burst(direct, 25, (i) => ({ remoteAddress: `2001:db8:1:2::${(i + 1).toString(16)}` }))
    expect(statuses.filter((status) => status === 429)).toHaveLength(5)
  })

  it('rate limit counting - X-Forwarded-For is ignored unless the peer is a trusted proxy', async () => {
    const spoofed = await burst(direct, 25, (i) => ({ remoteAddress: '192.0.2.7', headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } }))
    expect(spoofed.filter((status) => status === 429)).toHaveLength(5)
    // Behind a trusted proxy each client has a bucket of its own.
    const clients = await burst(proxied, 25, (i) => ({ remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } }))
    expect(clients.filter((status) => status === 429)).toHaveLength(0)
  })
})
