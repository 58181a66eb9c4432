import { connect, type Socket } from 'node:net'

/** One request of the warm-up. */
export interface WarmUpRequest {
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

const END_OF_HEAD = Buffer.from('\r\n\r\n')
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i
// Longest wait for one answer; past it the connection is dropped (the ingress answers within its publish
// timeout, so only a stuck server gets here).
const ANSWER_TIMEOUT_MS = 5000

/**
 * Sends the requests `next` gives, one after the other, over one kept-alive connection to the Unix socket
 * at `socketPath`, until `next` returns undefined; returns their status codes. A minimal HTTP/1.1 client
 * for answers from the ingress itself, which all carry Content-Length. Node's http client is left alone on
 * purpose: its requests share code with the server's responses, and warming it would leave that code
 * compiled for two kinds of object.
 */
export async function sendOverSocket(socketPath: string, next: () => WarmUpRequest | undefined): Promise<number[]> {
  const socket = await open(socketPath)
  const statuses: number[] = []
  try {
    for (let request = next(); request !== undefined; request = next()) statuses.push(await exchange(socket, request))
  } finally {
    socket.destroy()
  }
  return statuses
}

function open(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath)
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.off('error', reject)
      socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy(new Error('the warm-up got no answer in time')))
      resolve(socket)
    })
  })
}

/** Writes `request` and reads its answer's status code, the body read and dropped. */
function exchange(socket: Socket, request: WarmUpRequest): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0)
    const done = (error: Error | undefined, status?: number) => {
      socket.off('data', onData)
      socket.off('error', onEnd)
      socket.off('close', onEnd)
      if (error) reject(error)
      else resolve(status!)
    }
    const onEnd = (error?: Error | boolean) => done(error instanceof Error ? error : new Error('the connection closed before the answer'))
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const headEnd = received.indexOf(END_OF_HEAD)
      if (headEnd < 0) return
      const head = received.subarray(0, headEnd).toString('latin1')
      const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0)
      if (received.length < headEnd + END_OF_HEAD.length + length) return
      done(undefined, Number(head.slice(9, 12)))
    }
    socket.on('data', onData)
    socket.once('error', onEnd)
    socket.once('close', onEnd)
    const body = request.body ?? ''
    const headers = Object.entries(request.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')
    socket.write(`${request.method} ${request.path} HTTP/1.1\r\nhost: warm-up\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  })
}
