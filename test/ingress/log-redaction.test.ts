import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NatsAuthenticationError, redactUrlCredentials } from '@sluice/core'
import { describe, expect, it } from 'vitest'
import { parseKeys } from '../../apps/ingress/src/auth/api-key-ring.ts'
import { startIngress } from '../support/in-process.ts'
import { startNatsServer } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import { startApp } from '../support/sluice-processes.ts'

const KEY = 'log-redaction-key-Pz4mQ8vT2nW6'
const SECOND_KEY = 'second-key-on-the-line-Gx7rL3kY9'

describe('log redaction', () => {
  it('log redaction - a key sent as a query parameter is not written with the refused request', async () => {
    const server = await startNatsServer()
    const keys = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
    writeFileSync(keys, `${KEY}\n`)
    const ingress = await startApp('ingress', queueEnv(server.url, { INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys }), 'debug')
    try {
      const answer = await fetch(`${ingress.baseUrl}/v1/queue?api_key=${KEY}&token=query-secret-1234567890`)
      expect(answer.status).toBe(401)
      await ingress.waitForLog(/request refused/)
    } finally {
      await ingress.stop()
      await server.close()
    }
    expect(ingress.log()).toMatch(/"url":"\/v1\/queue"/)
    expect(ingress.log()).not.toContain(KEY)
    expect(ingress.log()).not.toContain('query-secret-1234567890')
  })

  it('log redaction - a keys-file line with two keys names the line, not the second key', () => {
    expect(() => parseKeys(`${KEY} ${SECOND_KEY}\n`)).toThrow(/line 1/)
    try {
      parseKeys(`${KEY} ${SECOND_KEY}\n`)
    } catch (error) {
      expect((error as Error).message).not.toContain(SECOND_KEY)
      expect((error as Error).message).not.toContain(KEY)
    }
  })

  it('log redaction - credentials in NATS_URL are not in the error that says NATS refused them', () => {
    const error = new NatsAuthenticationError('nats://sluice:url-password-42@nats-0:4222,tls://tok-en-99@nats-1:4222')
    expect(error.message).not.toContain('url-password-42')
    expect(error.message).not.toContain('tok-en-99')
    expect(error.message).toContain('nats-0:4222')
    expect(redactUrlCredentials('nats://a:b@h:1,nats://h:2')).toBe('nats://[redacted]@h:1,nats://h:2')
  })

  it('log redaction - the seed route refuses a user_id with line or paragraph separators or C0/C1 controls', async () => {
    const server = await startNatsServer()
    const ingress = await startIngress(queueEnv(server.url))
    try {
      for (const char of ['\u2028', '\u2029', '\u0085', '\u009b', '\u001b', '\n']) {
        const answer = await ingress.app.inject({ method: 'GET', url: `/?user_id=a${encodeURIComponent(char)}FATAL` })
        expect(answer.statusCode, JSON.stringify(char)).toBe(400)
      }
      expect((await ingress.app.inject({ method: 'GET', url: '/?user_id=plain-1' })).statusCode).toBe(200)
    } finally {
      await ingress.close()
      await server.close()
    }
  })
})
