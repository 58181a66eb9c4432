import { mkdtempSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { OpsServer } from '@sluice/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const KEY = 'connection-limits-key-Rk3vQ8mZt2Lp'

function keysFile(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

/** An open TCP connection and when it closed (undefined while open), with what it received. */
interface Probe {
  readonly socket: Socket
  received: string
  closedAt: number | undefined
  readonly openedAt: number
}

async function open(port: number): Promise<Probe> {
  const socket = connect(port, '127.0.0.1')
  const probe: Probe = { socket, received: '', closedAt: undefined, openedAt: Date.now() }
  socket.on('data', (chunk) => (probe.received += chunk.toString('latin1')))
  socket.on('error', () => {})
  socket.on('close', () => (probe.closedAt = Date.now()))
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', resolve))
  return probe
}

async function closed(probe: Probe, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs
  while (probe.closedAt === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  if (probe.closedAt === undefined) throw new Error(`still open after ${withinMs} ms; received ${JSON.stringify(probe.received)}`)
  return probe.closedAt - probe.openedAt
}

describe('connection limits', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let ops: OpsServer
  let port: number
  const probes: Probe[] = []

  beforeAll(async () => {
    server = await startNatsServer()
    ingress = await startIngress(
      queueEnv(server.url, {
        HOST: '127.0.0.1',
        INGRESS_OPS_PORT: '0',
        INGRESS_MAX_CONNECTIONS: '6',
        INGRESS_MAX_CONNECTIONS_PER_ADDRESS: '6',
        INGRESS_HEADERS_TIMEOUT_MS: '1000',
        INGRESS_REQUEST_TIMEOUT_MS: '2000',
        INGRESS_KEEP_ALIVE_TIMEOUT_MS: '1000',
        INGRESS_AUTH: 'api-key',
        INGRESS_API_KEYS_FILE: keysFile([KEY]),
      }),
    )
    await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    port = (ingress.app.server.address() as AddressInfo).port
    ops = await ingress.startOps()
  })
  afterAll(async () => {
    for (const probe of probes) probe.socket.destroy()
    await ingress?.close()
    await ops?.close()
    await server?.close()
  })

  it('connection limits - probes and metrics answer on their own port while every API slot is taken', async () => {
    for (let i = 0; i < 6; i++) probes.push(await open(port))
    const extra = await open(port)
    await closed(extra, 1000)
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`http://127.0.0.1:${ops.port}${path}`)).status, path).toBe(200)
    for (const probe of probes.splice(0)) probe.socket.destroy()
    await eventually(
      'the slots to be free again',
      () => new Promise<true | undefined>((resolve) => ingress.app.server.getConnections((_error, count) => resolve(count === 0 ? true : undefined))),
      2000,
    )
  })

  it('connection limits - a connection that sends nothing is closed after the headers timeout', async () => {
    const idle = await open(port)
    expect(await closed(idle, 4000)).toBeLessThan(3000)
  })

  it('connection limits - a slowly sent body is cut off at the request timeout', async () => {
    const slow = await open(port)
    slow.socket.write(`POST /v1/jobs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{`)
    const timer = setInterval(() => slow.socket.writable && slow.socket.write(' '), 200)
    try {
      expect(await closed(slow, 6000)).toBeLessThan(4500)
    } finally {
      clearInterval(timer)
    }
  })

  it('connection limits - a kept-alive connection is closed after the keep-alive timeout', async () => {
    const kept = await open(port)
    kept.socket.write('GET /openapi.json HTTP/1.1\r\nhost: x\r\n\r\n')
    expect(await closed(kept, 5000)).toBeLessThan(3500)
    expect(kept.received).toMatch(/^HTTP\/1.1 200/)
  })

  it('connection limits - a refusal before the body is read closes the connection', async () => {
    const early = await open(port)
    early.socket.write('POST /v1/jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{')
    expect(await closed(early, 1500)).toBeLessThan(1000)
    expect(early.received).toMatch(/^HTTP\/1.1 401/)
    expect(early.received.toLowerCase()).toContain('connection: close')
  })
})

describe('connection limits per address', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let port: number
  const probes: Probe[] = []

  beforeAll(async () => {
    server = await startNatsServer()
    ingress = await startIngress(queueEnv(server.url, { HOST: '127.0.0.1', INGRESS_MAX_CONNECTIONS: '100', INGRESS_MAX_CONNECTIONS_PER_ADDRESS: '3' }))
    await ingress.app.listen({ host: '127.0.0.1', port: 0 })
    port = (ingress.app.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    for (const probe of probes) probe.socket.destroy()
    await ingress?.close()
    await server?.close()
  })

  it('connection limits - one address cannot hold more than its share of the slots', async () => {
    for (let i = 0; i < 3; i++) probes.push(await open(port))
    const fourth = await open(port)
    expect(await closed(fourth, 1000)).toBeLessThan(1000)
    // Once one of the three closes, the address may open another.
    probes.pop()!.socket.destroy()
    const again = await eventually(
      'a fourth connection to be served',
      async () => {
        const candidate = await open(port)
        candidate.socket.write('GET /openapi.json HTTP/1.1\r\nhost: x\r\n\r\n')
        const answered = await eventually(
          'an answer or a close',
          () => (candidate.received.includes('HTTP/1.1') || candidate.closedAt !== undefined ? true : undefined),
          2000,
        )
        return answered && candidate.received.includes('HTTP/1.1') ? candidate : undefined
      },
      3000,
    )
    probes.push(again)
    expect(again.received).toMatch(/^HTTP\/1.1 200/)
  })
})
