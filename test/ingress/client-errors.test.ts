import { connect as connectTcp } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

interface RawAnswer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/**
 * Sends `bytes` on a fresh connection (parts 50 ms apart, so the server reads them separately) and reads
 * until the server closes it, then splits what came back into answers by their Content-Length.
 * `headAnswers` names the answers (by position) that are to a HEAD, which carry a Content-Length but no body.
 */
async function exchange(port: number, bytes: string | string[], headAnswers: number[] = []): Promise<{ answers: RawAnswer[]; rest: string }> {
  const parts = typeof bytes === 'string' ? [bytes] : bytes
  const received = await new Promise<string>((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await sleep(50)
        if (!socket.destroyed) socket.write(part)
      }
    })
    let data = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (data += chunk))
    socket.on('close', () => resolve(data))
    socket.on('error', reject)
  })
  const answers: RawAnswer[] = []
  let rest = received
  while (rest.startsWith('HTTP/1.1 ')) {
    const endOfHead = rest.indexOf('\r\n\r\n')
    const [statusLine, ...lines] = rest.slice(0, endOfHead).split('\r\n')
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
    const length = headAnswers.includes(answers.length) ? 0 : Number(headers['content-length'] ?? 0)
    answers.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.slice(endOfHead + 4, endOfHead + 4 + length) })
    rest = rest.slice(endOfHead + 4 + length)
  }
  return { answers, rest }
}

function expectProblem(answer: RawAnswer | undefined, status: number, type: string): void {
  expect(answer?.status).toBe(status)
  expect(answer?.headers['content-type']).toBe('application/problem+json; charset=utf-8')
  expect(answer?.headers.connection).toBe('close')
  expect(answer?.headers['x-content-type-options']).toBe('nosniff')
  expect(JSON.parse(answer!.body)).toMatchObject({ type, status })
}

// Requests Node's HTTP parser refuses never reach a route or `app.inject`: these speak raw HTTP.
describe('client errors', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress
  let port: number

  beforeAll(async () => {
    nats = await startNatsServer()
    ingress = await startIngress(queueEnv(nats.url))
    port = Number(new URL(await ingress.app.listen({ host: '127.0.0.1', port: 0 })).port)
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  it('client errors - headers over the size limit get a 431 problem+json, and the connection is closed', async () => {
    const { answers, rest } = await exchange(port, `GET /?user_id=1 HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(20_000)}\r\n\r\n`)
    expect(answers).toHaveLength(1)
    expectProblem(answers[0], 431, 'urn:sluice:problem:headers-too-large')
    expect(rest).toBe('')
  })

  it('client errors - headers that overflow in a later read than the request line get the 431 without a body', async () => {
    // The method is not in the bytes refused, and a body after a HEAD's head would break its client.
    for (const method of ['GET', 'HEAD']) {
      const { answers, rest } = await exchange(port, [`${method} /?user_id=1 HTTP/1.1\r\nhost: x\r\n`, `x-big: ${'b'.repeat(20_000)}\r\n\r\n`], [0])
      expect(answers, method).toHaveLength(1)
      expect(answers[0]?.status).toBe(431)
      expect(answers[0]?.headers['content-length']).toBe('0')
      expect(rest).toBe('')
    }
  })

  it('client errors - a malformed header gets a 400 problem+json; the same to a HEAD has no body', async () => {
    const get = await exchange(port, 'GET /v1/queue HTTP/1.1\r\nhost: x\r\nbad header: 1\r\n\r\n')
    expectProblem(get.answers[0], 400, 'urn:sluice:problem:invalid-request')
    expect(get.rest).toBe('')
    // A body after a HEAD's head would be read by the client as the start of the next answer.
    const head = await exchange(port, 'HEAD /v1/queue HTTP/1.1\r\nhost: x\r\nbad header: 1\r\n\r\n', [0])
    expect(head.answers).toHaveLength(1)
    expect(head.answers[0]?.status).toBe(400)
    expect(head.answers[0]?.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(head.rest).toBe('')
  })

  it('client errors - pipelined requests before the broken one get their own answers first', async () => {
    // The first request is answered only after the server confirms the job.
    const { answers, rest } = await exchange(
      port,
      `GET /?user_id=first HTTP/1.1\r\nhost: x\r\n\r\nGET /v1/queue HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nx-big: ${'b'.repeat(20_000)}\r\n\r\n`,
    )
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 431])
    expect(answers[0]?.body).toBe('queuing user process: first')
    expectProblem(answers[2], 431, 'urn:sluice:problem:headers-too-large')
    expect(rest).toBe('')
  })

  it('client errors - a broken chunked body is answered at once with a 400 problem+json', async () => {
    const started = performance.now()
    const { answers } = await exchange(
      port,
      'POST /v1/jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    )
    expectProblem(answers[0], 400, 'urn:sluice:problem:invalid-request')
    // Not left waiting for a body that can no longer arrive (the bound for that is 65 s).
    expect(performance.now() - started).toBeLessThan(10_000)
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
  })
})
