import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
