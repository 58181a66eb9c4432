import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

/** One request over a real socket, as a client sends it (`app.inject` skips Node's HTTP server). */
function send(baseUrl: string, method: string, path: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest(`${baseUrl}${path}`, { method }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }))
    })
    sent.on('error', reject).end()
  })
}

// HEAD is a safe method (RFC 9110 9.2.1): it must never enqueue. The seed route's GET does, so HEAD there
// cannot be "a GET without the body"; it is refused with 405 and the methods the path takes.
describe('head requests', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress
  let jsm: JetStreamManager
  let stream: string
  let baseUrl: string

  beforeAll(async () => {
    nats = await startNatsServer()
    const env = queueEnv(nats.url)
    stream = env.QUEUE_STREAM!
    ingress = await startIngress(env)
    jsm = await jetstreamManager(ingress.nats.nc)
    baseUrl = await ingress.app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  const storedJobs = async () => (await jsm.streams.info(stream)).state.messages

  it('head requests - HEAD on the seed route stores no job: 405 with Allow, no body', async () => {
    // A plain id, a percent-encoded one, one beside another parameter, and a missing id.
    for (const path of ['/?user_id=x', '/?user_id=%78', '/?user_id=x&other=1', '/']) {
      const answer = await send(baseUrl, 'HEAD', path)
      expect(answer.status, path).toBe(405)
      expect(answer.headers.allow, path).toBe('GET, POST')
      expect(answer.headers['content-type'], path).toMatch(/^application\/problem\+json/)
      expect(answer.body, path).toBe('')
    }
    const injected = await ingress.app.inject({ method: 'HEAD', url: '/?user_id=y' })
    expect(injected.statusCode).toBe(405)
    expect(injected.body).toBe('')
    expect(await storedJobs()).toBe(0)
  })

  it('head requests - HEAD on a read route answers as its GET, without a body', async () => {
    const before = await storedJobs()
    const head = await send(baseUrl, 'HEAD', '/v1/queue')
    expect(head.status).toBe(200)
    expect(head.headers['content-type']).toMatch(/^application\/json/)
    expect(head.body).toBe('')
    expect((await send(baseUrl, 'HEAD', '/v1/jobs/unknown')).status).toBe(404)
    expect(await storedJobs()).toBe(before)
  })
})
