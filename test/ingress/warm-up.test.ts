import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'
import { startApp } from '../support/sluice-processes.ts'

// The start-up warm-up (apps/ingress/src/warm-up.ts) runs the accept path with every publish diverted to a
// responder of its own: what it must never do is store a job, count one, leave a door open, or keep
// diverting once it is over.
const SUBMIT_KEY = 'warm-up-submit-key-Vq82nLx4Tw9c'

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-warm-up-')), name)
  writeFileSync(path, text)
  return path
}

describe('warm-up', () => {
  let nats: NatsServerFixture
  let nc: NatsConnection
  let jsm: JetStreamManager
  const ingresses: InProcessIngress[] = []

  beforeAll(async () => {
    nats = await startNatsServer()
    nc = await connect({ servers: nats.url })
    jsm = await jetstreamManager(nc)
  })
  afterAll(async () => {
    for (const ingress of ingresses) await ingress.close()
    await nc?.close()
    await nats?.close()
  })

  async function ingressFor(overrides: Env): Promise<{ ingress: InProcessIngress; env: Env }> {
    const env = queueEnv(nats.url, overrides)
    const ingress = await startIngress(env)
    ingresses.push(ingress)
    return { ingress, env }
  }
  const depth = async (env: Env) => (await jsm.streams.info(env.QUEUE_STREAM!)).state.messages

  it('warm-up - runs the seed route and POST /v1/jobs to the end, stores no job and counts none; then jobs reach the queue again', async () => {
    const { ingress, env } = await ingressFor({ INGRESS_WARMUP_REQUESTS: '400' })
    const result = await ingress.warmUp()
    expect(result.sent).toBe(400)
    // Three turns in four on the seed route (200), the rest on the JSON API (202): every one was accepted.
    expect(result.statuses).toEqual({ 200: 300, 202: 100 })
    expect(await depth(env)).toBe(0)
    const metrics = await ingress.app.queue.metrics.registry.metrics()
    expect(metrics).not.toMatch(/^sluice_ingress_jobs_accepted_total\{/m)
    expect(metrics).not.toMatch(/^sluice_ingress_publish_duration_seconds_count /m)

    const after = await ingress.app.inject({ method: 'GET', url: '/?user_id=after-warm-up' })
    expect(after.statusCode).toBe(200)
    expect(await depth(env)).toBe(1)
    expect(await ingress.app.queue.metrics.registry.metrics()).toMatch(/^sluice_ingress_jobs_accepted_total\{route="seed"\} 1$/m)
  })

  it('warm-up - passes API keys and the rate limit while it runs, and its header opens nothing once it is over', async () => {
    const { ingress, env } = await ingressFor({
      INGRESS_WARMUP_REQUESTS: '200',
      INGRESS_AUTH: 'api-key',
      INGRESS_API_KEYS_FILE: tempFile('keys', `${SUBMIT_KEY}\n`),
      INGRESS_SEED_ROUTE: 'protected',
      INGRESS_RATE_LIMIT_PER_SECOND: '2',
    })
    const result = await ingress.warmUp()
    expect(result.statuses).toEqual({ 200: 150, 202: 50 })
    expect(await depth(env)).toBe(0)
    for (const headers of [{}, { 'x-sluice-warm-up': 'guess' }, { 'x-sluice-warm-up': '' }]) {
      const response = await ingress.app.inject({ method: 'GET', url: '/?user_id=no-key', headers })
      expect(response.statusCode, JSON.stringify(headers)).toBe(401)
    }
    // The rate limit counts again: 2 a second for this key, then 429.
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      statuses.push((await ingress.app.inject({ method: 'GET', url: `/?user_id=keyed-${i}`, headers: { 'x-api-key': SUBMIT_KEY } })).statusCode)
    }
    expect(statuses).toEqual([200, 200, 429])
    expect(await depth(env)).toBe(2)
  })

  it('warm-up - only runs what it can run to the end: nothing when a types file leaves out `user` and the seed route is the only way in', async () => {
    const { ingress, env } = await ingressFor({
      INGRESS_WARMUP_REQUESTS: '100',
      JOB_TYPES_FILE: tempFile('job-types.json', JSON.stringify({ types: { greet: {} } })),
    })
    expect(await ingress.warmUp()).toMatchObject({ sent: 0, statuses: {} })
    // With `user` listed, the seed route warms up; `POST /v1/jobs` is left out, since its type must be listed too.
    const listed = await ingressFor({
      INGRESS_WARMUP_REQUESTS: '100',
      JOB_TYPES_FILE: tempFile('job-types.json', JSON.stringify({ types: { user: {} } })),
    })
    expect((await listed.ingress.warmUp()).statuses).toEqual({ 200: 100 })
    expect(await depth(env)).toBe(0)
    expect(await depth(listed.env)).toBe(0)
  })

  it('warm-up - off by default, and with INGRESS_WARMUP_REQUESTS=0', async () => {
    for (const overrides of [{}, { INGRESS_WARMUP_REQUESTS: '0' }] as Env[]) {
      const { ingress } = await ingressFor(overrides)
      expect(await ingress.warmUp()).toEqual({ sent: 0, statuses: {}, ms: 0 })
    }
  })

  it('warm-up - refuses to run once the ingress listens, since it diverts every publish', async () => {
    const { ingress, env } = await ingressFor({ INGRESS_WARMUP_REQUESTS: '10' })
    await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    await expect(ingress.warmUp()).rejects.toThrow(/before the ingress listens/)
    const response = await ingress.app.inject({ method: 'GET', url: '/?user_id=still-stored' })
    expect(response.statusCode).toBe(200)
    expect(await depth(env)).toBe(1)
  })

  it('warm-up - a started ingress process warms up before it answers, with the queue left empty', async () => {
    const env = queueEnv(nats.url, { INGRESS_WARMUP_REQUESTS: '3000' })
    const ingress = await startApp('ingress', env)
    try {
      // The app's logger writes asynchronously: /readyz can answer before the line reaches the log file.
      await ingress.waitForLog(/"sent":3000,"statuses":\{"200":2250,"202":750\}.*"msg":"accept path warmed up"/)
      expect(await depth(env)).toBe(0)
      const response = await fetch(`${ingress.baseUrl}/?user_id=first`)
      expect(response.status).toBe(200)
      expect(await depth(env)).toBe(1)
    } finally {
      await ingress.stop()
    }
  })

  it('warm-up - one that cannot run (no writable temporary directory for its socket) is logged, and the ingress starts all the same', async () => {
    const env = queueEnv(nats.url, { INGRESS_WARMUP_REQUESTS: '100', TMPDIR: join(tmpdir(), 'sluice-no-such-directory') })
    const ingress = await startApp('ingress', env)
    try {
      await ingress.waitForLog(/"sent":0,.*"msg":"the accept path warm-up failed or stored nothing; starting without it"/)
      expect((await fetch(`${ingress.baseUrl}/?user_id=cold`)).status).toBe(200)
      expect(await depth(env)).toBe(1)
    } finally {
      await ingress.stop()
    }
  })
})
