import { FINAL_STATES, type JobStatus, type StopWatching, supersedes } from '@sluice/core'
import type { FastifyReply } from 'fastify'
import type { KeyEntry } from './auth/api-key-ring.ts'
import { findJobStatus, mayAccessJob, publicStatus } from './job-lookup.ts'
import type { QueueServices } from './plugins/queue-plugin.ts'
import { SECURITY_HEADERS } from './security-headers.ts'

/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000

/** How a job event stream ended, as its last event says (`done` needs none: the final state says it). */
type StreamEnd = 'done' | 'timeout' | 'gone' | 'closing' | 'client gone'

/**
 * The job event streams of one ingress (`GET /v1/jobs/<id>/events`): Server-Sent Events, one `state` event
 * per recorded state change, from the state at the start to a final one. Bounded in number
 * (INGRESS_WATCH_MAX_CONNECTIONS) and in time (INGRESS_WATCH_MAX_MS, then a `timeout` event); `closeAll()`
 * ends every stream with a `closing` event when the ingress shuts down.
 */
export class JobEventStreams {
  readonly #maxStreams: number
  readonly #maxMs: number
  readonly #open = new Set<(end: StreamEnd) => void>()
  /** Streams between the room check and their first event (they read the state first). */
  #starting = 0

  /**
   * @param maxStreams INGRESS_WATCH_MAX_CONNECTIONS
   * @param maxMs INGRESS_WATCH_MAX_MS
   */
  constructor(maxStreams: number, maxMs: number) {
    this.#maxStreams = maxStreams
    this.#maxMs = maxMs
  }

  /** Streams open now. */
  get size(): number {
    return this.#open.size
  }

  /** Whether another stream may open. */
  hasRoom(): boolean {
    return this.#open.size + this.#starting < this.#maxStreams
  }

  /**
   * Streams job `id`'s states to `reply` until a final one, the time bound, the client leaving or
   * `closeAll()`. Resolves false, without answering, when no job has the id or `apiKey` may not see it
   * (see `mayAccessJob`; the route answers 404).
   */
  async stream(queue: QueueServices, id: string, reply: FastifyReply, apiKey?: KeyEntry): Promise<boolean> {
    // The stream holds its place from here: reading the state first takes a moment.
    this.#starting++
    let reserved = true
    const unreserve = () => {
      if (reserved) this.#starting--
      reserved = false
    }
    try {
      return await this.#stream(queue, id, reply, apiKey, unreserve)
    } finally {
      unreserve()
    }
  }

  async #stream(queue: QueueServices, id: string, reply: FastifyReply, apiKey: KeyEntry | undefined, unreserve: () => void): Promise<boolean> {
    let started = false
    let last: JobStatus | undefined
    let end: ((why: StreamEnd) => void) | undefined
    // The watch starts before the first read: a change in between is not missed, and one seen twice is
    // dropped by the state order (an equal state does not supersede).
    const take = (status: JobStatus | undefined): void => {
      if (!status) {
        if (started) end?.('gone')
        return
      }
      if (last && !supersedes(status, last)) return
      last = status
      if (started) send(status)
    }
    const stopWatching: StopWatching = await queue.statusStore.watch(id, take)
    try {
      take(await findJobStatus(queue, id))
    } catch (error) {
      stopWatching()
      throw error
    }
    if (!last || !mayAccessJob(last, apiKey)) {
      stopWatching()
      return false
    }

    reply.hijack()
    const raw = reply.raw
    // A hijacked reply skips the onSend hook that gives every answer these (app.ts), and what hooks set before.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) raw.setHeader(name, value)
    raw.writeHead(200, {
      ...SECURITY_HEADERS,
      'x-request-id': reply.request.id,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    const write = (event: string, data: unknown): void => {
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    const send = (status: JobStatus): void => {
      write('state', publicStatus(status))
      if (FINAL_STATES.has(status.state)) end?.('done')
    }
    await new Promise<void>((resolve) => {
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS).unref()
      const timeout = setTimeout(() => end?.('timeout'), this.#maxMs).unref()
      const onClientGone = () => end?.('client gone')
      end = (why) => {
        end = undefined
        // Entries the watch had queued may still arrive: they only update `last` now.
        started = false
        clearInterval(keepAlive)
        clearTimeout(timeout)
        stopWatching()
        this.#open.delete(finish)
        raw.off('close', onClientGone)
        if (why === 'timeout' || why === 'gone' || why === 'closing') write(why, {})
        raw.end()
        resolve()
      }
      const finish = (why: StreamEnd) => end?.(why)
      unreserve()
      this.#open.add(finish)
      raw.on('close', onClientGone)
      // A write racing the client's leaving must not become an unhandled error (kept after the end: a no-op).
      raw.on('error', onClientGone)
      started = true
      send(last as JobStatus)
    })
    return true
  }

  /** Ends every open stream with a `closing` event (the ingress is shutting down). */
  closeAll(): void {
    for (const finish of [...this.#open]) finish('closing')
  }
}
