import { request } from 'node:http'
import { createConnection, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import { startIngress } from '../support/in-process.ts'
import { startApp } from '../support/sluice-processes.ts'

const server = await startNatsServer()

// Holding a publish in flight needs a server we can pause; against an external NATS_URL it is skipped.
describe.skipIf(!server.controllable)(`ingress shutdown${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  afterAll(async () => {
    server.resume()
    await server.close()
  })

  it('ingress shutdown - draining fails readiness so load balancers stop sending traffic', async () => {
    const ingress = await startIngress(queueEnv(server.url))
    try {
      expect((await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
      ingress.startDraining()
      const answer = await ingress.app.inject({ method: 'GET', url: '/readyz' })
      expect(answer.statusCode).toBe(503)
      expect(answer.json().problems).toEqual(['shutting down'])
    } finally {
      await ingress.close()
    }
  })

  it('ingress shutdown - a request still arriving on an open connection while the app closes gets a 503 problem+json with Retry-After', async () => {
    const ingress = await startIngress(queueEnv(server.url, { INGRESS_PUBLISH_TIMEOUT_MS: '5000', INGRESS_RETRY_AFTER_SECONDS: '5' }))
    const baseUrl = await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    const socket = createConnection({ host: '127.0.0.1', port: Number(new URL(baseUrl).port) })
    let received = ''
    socket.setEncoding('latin1').on('data', (chunk: string) => (received += chunk))
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    try {
      // A paused server holds the first request's publish in flight, so the connection is busy (not idle)
      // when the app starts closing, and the second request arrives on it afterwards.
      server.pause()
      const body = JSON.stringify({ type: 't', payload: {} })
      socket.write(`POST /v1/jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
      await eventually('the publish to be in flight', () => (ingress.app.queue.publisher.inflight === 1 ? true : undefined))
      const closed = ingress.app.close()
      socket.write('GET /v1/queue HTTP/1.1\r\nhost: x\r\n\r\n')
      server.resume()
      await socketClosed
      await closed
      const [accepted, refused] = received.split(/(?=HTTP\/1\.1 )/)
      expect(accepted).toMatch(/^HTTP\/1\.1 202 /)
      expect(refused).toMatch(/^HTTP\/1\.1 503 /)
      expect(refused).toMatch(/\r\ncontent-type: application\/problem\+json; charset=utf-8\r\n/i)
      expect(refused).toMatch(/\r\nretry-after: 5\r\n/i)
      expect(refused).toMatch(/\r\nconnection: close\r\n/i)
      expect(refused).toMatch(/\r\nx-content-type-options: nosniff\r\n/i)
      expect(JSON.parse(refused!.slice(refused!.indexOf('\r\n\r\n') + 4))).toMatchObject({ type: 'urn:sluice:problem:shutting-down', status: 503 })
    } finally {
      server.resume()
      socket.destroy()
      await ingress.close()
    }
  })

  it('ingress shutdown - SIGTERM: the listener closes, the in-flight request still gets its answer, exit 0', async () => {
    const ingress = await startApp('ingress', queueEnv(server.url, { INGRESS_PUBLISH_TIMEOUT_MS: '5000' }))
    try {
      // A paused server holds the publish in flight while the signal arrives.
      server.pause()
      // On a connection of its own: a kept-alive one from the readiness checks could be closed by the
      // server's idle timeout just as the request goes out, and the request would never arrive.
      const inFlight = postOnFreshConnection(`${ingress.baseUrl}/v1/jobs`, JSON.stringify({ type: 't', payload: {} }), {
        'content-type': 'application/json',
        'idempotency-key': 'in-flight-at-sigterm',
      })
      let sendFailed: unknown
      inFlight.catch((error: unknown) => {
        sendFailed = error
      })
      await eventually('the publish to be in flight', async () => {
        if (sendFailed) throw new Error(`the request failed before the publish: ${String(sendFailed)}`)
        const metrics = await (await fetch(`${ingress.baseUrl}/metrics`)).text()
        return /sluice_ingress_publishes_in_flight 1/.test(metrics) ? true : undefined
      })
      ingress.signal('SIGTERM')
      await ingress.waitForLog(/"msg":"shutting down"/)
      // New connections are refused once the listener is closed.
      await eventually('the listener to close', async () => {
        try {
          await fetch(`${ingress.baseUrl}/healthz`)
          return undefined
        } catch {
          return true
        }
      })
      server.resume()
      const answer = await inFlight
      expect(answer).toBe(202)
      expect(await ingress.exited).toEqual({ code: 0, signal: null })
    } finally {
      server.resume()
      await ingress.stop()
    }
  })

  it('ingress connections - past INGRESS_MAX_CONNECTIONS a new connection is closed at once, and served again when one frees up', async () => {
    const ingress = await startApp('ingress', queueEnv(server.url, { INGRESS_MAX_CONNECTIONS: '2' }))
    const { port } = new URL(ingress.baseUrl)
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = createConnection({ host: '127.0.0.1', port: Number(port) }, () => resolve(socket))
        socket.once('error', reject)
      })
    const closedByServer = (socket: Socket): Promise<void> => new Promise((resolve) => socket.once('close', () => resolve()))
    try {
      const held = [await open(), await open()]
      const third = await open()
      await closedByServer(third)
      held[0]!.destroy()
      await eventually('a connection slot to free up', async () => {
        try {
          return (await fetch(`${ingress.baseUrl}/healthz`, { headers: { connection: 'close' } })).ok ? true : undefined
        } catch {
          return undefined
        }
      })
      held[1]!.destroy()
    } finally {
      await ingress.stop()
    }
  })
})

// POSTs `body` on a new connection (no keep-alive agent) and resolves with the status.
function postOnFreshConnection(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    sent.on('error', reject)
    sent.end(body)
  })
}
