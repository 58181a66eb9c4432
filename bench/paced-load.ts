import { connect, type Socket } from 'node:net'
import { percentile, roundMs } from './latency-percentiles.ts'

/**
 * Latency at a given rate needs requests sent at that rate, evenly. autocannon cannot do this: with a rate
 * set, each connection sends its quota for the second back to back and then waits for the next second,
 * so "half the maximum rate" is full load for half of every second and its percentiles are those of full
 * load. This generator is open-loop instead: request i is due at start + i/rate whatever the server did
 * with the earlier ones, and its latency counts from when it was due, so a slow answer cannot hide the
 * requests that would have queued behind it (no coordinated omission).
 *
 * It speaks just enough HTTP/1.1 for a GET with a Content-Length answer, one request at a time per
 * keep-alive connection, so that on a small machine the generator takes as little CPU (and adds as little
 * of its own delay) as possible.
 */
export interface PacedLoadOptions {
  /** Target URL (http only), e.g. `http://127.0.0.1:3000/?user_id=1`. */
  readonly url: string
  /** Requests per second, spread evenly. */
  readonly rate: number
  readonly durationSeconds: number
  /** Keep-alive connections; a request due while all are busy waits for the first one free. */
  readonly connections: number
  /** The status that counts as success. */
  readonly expectStatus: number
  /** Sent at the rate first and not recorded: connections opened, code warmed up. */
  readonly warmupSeconds?: number
}

/** Latency percentiles of the requests answered with `expectStatus`, plus everything that was not. */
export interface PacedLoadResult {
  readonly sent: number
  readonly answeredRps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly unexpected: number
}

/** How often the scheduler wakes to send what has fallen due; requests due within one tick go together. */
const TICK_MS = 1
const END_OF_HEAD = Buffer.from('\r\n\r\n')
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i

/** Runs the paced load and reports latency percentiles measured from each request's due time. */
export async function runPacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const target = new URL(options.url)
  const request = Buffer.from(`GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: keep-alive\r\n\r\n`)
  const warmup = Math.round(options.rate * (options.warmupSeconds ?? 1))
  const total = warmup + Math.round(options.rate * options.durationSeconds)
  const latencies = new Float64Array(total)
  let answered = 0
  let unexpected = 0
  let finished = 0
  let measuredFrom = 0

  // Due times of requests not yet sent because every connection was busy, oldest first.
  const backlog: { index: number; dueAt: number }[] = []
  const idle: PacedConnection[] = []
  // The most recently freed first. A connection left idle longer than the server's keep-alive timeout has
  // been closed by the server meanwhile (at low rates most are): it is dropped here, not sent a request
  // that nothing would ever answer.
  const takeIdle = (): PacedConnection | undefined => {
    for (let connection = idle.pop(); connection; connection = idle.pop()) if (connection.alive) return connection
    return undefined
  }
  // A request no connection is left to carry: reported as not answered, so the run still ends.
  const lose = (index: number) => {
    finished++
    if (index >= warmup) unexpected++
  }
  const onAnswer = (connection: PacedConnection, index: number, dueAt: number, status: number | undefined) => {
    finished++
    if (index >= warmup) {
      if (status === options.expectStatus) latencies[answered++] = performance.now() - dueAt
      else unexpected++
    }
    if (!connection.alive) {
      // Without this, requests waiting for a connection when the last one closed would keep the run waiting forever.
      if (!connections.some((each) => each.alive)) for (const waiting of backlog.splice(0)) lose(waiting.index)
      return
    }
    const next = backlog.shift()
    if (next) connection.send(next.index, next.dueAt)
    else idle.push(connection)
  }
  const connections = await Promise.all(Array.from({ length: options.connections }, () => PacedConnection.open(target, request, onAnswer)))
  idle.push(...connections)

  const started = performance.now()
  let sent = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate) + 1)
      for (; sent < due; sent++) {
        if (sent === warmup) measuredFrom = performance.now()
        const dueAt = started + (sent / options.rate) * 1000
        const connection = takeIdle()
        if (connection) connection.send(sent, dueAt)
        else if (connections.some((each) => each.alive)) backlog.push({ index: sent, dueAt })
        else lose(sent)
      }
      if (sent < total) setTimeout(tick, TICK_MS)
      else resolve()
    }
    tick()
  })
  await new Promise<void>((resolve) => {
    const check = () => (finished >= total ? resolve() : setTimeout(check, 10))
    check()
  })
  const elapsedSeconds = (performance.now() - measuredFrom) / 1000
  for (const connection of connections) connection.close()

  const sorted = latencies.subarray(0, answered).sort()
  return {
    sent: total - warmup,
    answeredRps: Math.round(answered / elapsedSeconds),
    p50Ms: roundMs(percentile(sorted, 0.5)),
    p99Ms: roundMs(percentile(sorted, 0.99)),
    maxMs: roundMs(sorted.at(-1) ?? 0),
    unexpected,
  }
}

type AnswerListener = (connection: PacedConnection, index: number, dueAt: number, status: number | undefined) => void

/** One keep-alive connection carrying one request at a time. */
class PacedConnection {
  readonly #socket: Socket
  readonly #request: Buffer
  readonly #onAnswer: AnswerListener
  #pending: Buffer = Buffer.alloc(0)
  #current: { index: number; dueAt: number } | undefined
  #alive = true

  private constructor(socket: Socket, request: Buffer, onAnswer: AnswerListener) {
    this.#socket = socket
    this.#request = request
    this.#onAnswer = onAnswer
    socket.on('data', (chunk: Buffer) => this.#read(chunk))
    // A dropped connection fails its request; the run then reports it as unexpected.
    socket.on('close', () => this.#fail())
    socket.on('error', () => this.#fail())
  }

  /** False once the server closed the connection; it is not used again. */
  get alive(): boolean {
    return this.#alive
  }

  static open(target: URL, request: Buffer, onAnswer: AnswerListener): Promise<PacedConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.hostname, port: Number(target.port || 80), noDelay: true })
      socket.once('connect', () => resolve(new PacedConnection(socket, request, onAnswer)))
      socket.once('error', reject)
    })
  }

  send(index: number, dueAt: number): void {
    this.#current = { index, dueAt }
    this.#socket.write(this.#request)
  }

  close(): void {
    this.#alive = false
    this.#socket.destroy()
  }

  #read(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    const headEnd = this.#pending.indexOf(END_OF_HEAD)
    if (headEnd === -1) return
    const head = this.#pending.subarray(0, headEnd).toString('latin1')
    const bodyLength = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0)
    const end = headEnd + END_OF_HEAD.length + bodyLength
    if (this.#pending.length < end) return
    this.#pending = this.#pending.subarray(end)
    this.#settle(Number(head.slice(9, 12)))
  }

  #fail(): void {
    this.#alive = false
    this.#settle(undefined)
  }

  #settle(status: number | undefined): void {
    const current = this.#current
    if (!current) return
    this.#current = undefined
    this.#onAnswer(this, current.index, current.dueAt, status)
  }
}
