import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInbox, type NatsConnection } from '@nats-io/nats-core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { IngressMetrics } from './ingress-metrics.ts'
import type { JobPublisher } from './job-publisher.ts'
import { sendOverSocket, type WarmUpRequest } from './warm-up-client.ts'

// The warm-up's own requests carry this header with a secret made for the run; nothing else can send them,
// since the warm-up ends before the ingress listens.
const WARM_UP_HEADER = 'x-sluice-warm-up'
// Requests in flight at once (one connection each): enough for the publisher to send several publishes per
// socket write, as under load, and few enough to stay a small, bounded start-up cost.
const WARM_UP_CONCURRENCY = 32
// The longest a warm-up may hold back the start, however slow the machine or the NATS server.
const WARM_UP_BUDGET_MS = 5000

/** An accept route the warm-up can run to the end: the seed route, or `POST /v1/jobs` of any type. */
export type WarmUpRoute = 'seed' | 'jobs'

/** What the warm-up sends, chosen from the routes this ingress has and the job types it takes. */
export interface WarmUpPlan {
  /** Requests in all; 0, or no route, skips the warm-up. */
  readonly requests: number
  /** Taken in turn; a route listed twice gets twice the requests. */
  readonly routes: readonly WarmUpRoute[]
}

/** How a warm-up went. */
export interface WarmUpResult {
  readonly sent: number
  /** Answers by status code: 200 and 202 are accepted jobs, which went to the warm-up's responder. */
  readonly statuses: Readonly<Record<number, number>>
  readonly ms: number
}

/**
 * Warms the accept path of a fresh ingress before it listens. A new process answers its first seconds of
 * load 5-10× slower (docs/performance-log.md) while V8 compiles the hot path, and what warms that path is
 * running it: Node's HTTP server, the route with its hooks and checks, the publish and its acknowledgement.
 * So the warm-up sends the seed route and `POST /v1/jobs` to the app's own HTTP server, over connections
 * from a Unix socket in a directory only this user can enter (the server never listens on it: each
 * accepted socket is handed to it), with the publisher diverted to a subject of its own, answered here
 * with an acknowledgement as JetStream's. The whole path runs and no job reaches the queue. Its requests
 * pass authentication and the rate limit (see {@link admits}), and the counters they moved are reset after.
 *
 * Why real connections and not `app.inject()`: V8 then compiles the hot path for the objects production
 * uses. Warmed with inject's stand-in requests, the same ingress spent 15 % more CPU per accepted job at
 * full load afterwards (docs/performance-log.md).
 */
export class AcceptPathWarmUp {
  #secret: string | undefined

  /** True for the warm-up's own requests while it runs (see WARM_UP_HEADER). */
  admits(request: FastifyRequest): boolean {
    return this.#secret !== undefined && request.headers[WARM_UP_HEADER] === this.#secret
  }

  /**
   * Sends `plan.requests` requests (32 at a time, for at most 5 s). Call it after the app is built and
   * before it listens: while it runs, every publish goes to the warm-up's responder.
   */
  async run(app: FastifyInstance, nc: NatsConnection, publisher: JobPublisher, metrics: IngressMetrics, plan: WarmUpPlan, log: Logger): Promise<WarmUpResult> {
    const started = performance.now()
    const statuses: Record<number, number> = {}
    if (plan.requests === 0 || plan.routes.length === 0) return { sent: 0, statuses, ms: 0 }
    if (app.server.listening) throw new Error('the warm-up must run before the ingress listens: it diverts every publish')
    await app.ready()
    const subjectPrefix = createInbox()
    let seq = 0
    const responder = nc.subscribe(`${subjectPrefix}.>`, {
      callback: (error, msg) => {
        if (!error) msg.respond(`{"stream":"warm-up","seq":${++seq}}`)
      },
    })
    const door = createServer((socket) => app.server.emit('connection', socket))
    let directory: string | undefined
    this.#secret = randomBytes(24).toString('base64url')
    publisher.divertTo(subjectPrefix)
    let sent = 0
    let failure: unknown
    try {
      // The responder must be known to the server before the first publish, or that publish finds no one.
      await nc.flush()
      // mkdtemp makes it 0700: no other user can reach the socket. A read-only /tmp fails the warm-up only.
      directory = mkdtempSync(join(tmpdir(), 'sluice-warm-up-'))
      const socketPath = join(directory, 'http.sock')
      await listenOn(door, socketPath)
      const deadline = started + WARM_UP_BUDGET_MS
      const next = (): WarmUpRequest | undefined => {
        if (failure !== undefined || sent >= plan.requests || performance.now() >= deadline) return undefined
        const n = sent++
        return this.#request(n, plan.routes[n % plan.routes.length]!)
      }
      const lane = async (): Promise<void> => {
        try {
          for (const status of await sendOverSocket(socketPath, next)) statuses[status] = (statuses[status] ?? 0) + 1
        } catch (error) {
          failure ??= error
        }
      }
      // Every lane ends before the diversion does: a request still on its way after that would store a job.
      await Promise.all(Array.from({ length: Math.min(WARM_UP_CONCURRENCY, plan.requests) }, lane))
    } catch (error) {
      failure = error
    } finally {
      publisher.stopDiverting()
      this.#secret = undefined
      responder.unsubscribe()
      door.close()
      if (directory) rmSync(directory, { recursive: true, force: true })
    }
    // The jobs above went nowhere: /metrics starts from zero, as if the warm-up had not happened.
    for (const counter of [metrics.accepted, metrics.duplicates, metrics.rejected, metrics.publishSeconds]) counter.reset()
    const result = { sent, statuses, ms: Math.round(performance.now() - started) }
    // A publish the server would not let through (a NATS user not allowed the `_INBOX` subjects) times out,
    // and a socket that cannot be made fails: the ingress starts all the same, only colder.
    if (failure !== undefined || (statuses[200] ?? 0) + (statuses[202] ?? 0) === 0) {
      log.warn({ ...result, err: failure }, 'the accept path warm-up failed or stored nothing; starting without it')
    } else log.info(result, 'accept path warmed up')
    return result
  }

  #request(n: number, route: WarmUpRoute): WarmUpRequest {
    const headers = { [WARM_UP_HEADER]: this.#secret! }
    if (route === 'seed') return { method: 'GET', path: `/?user_id=warm-up-${n}`, headers }
    return {
      method: 'POST',
      path: '/v1/jobs',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'warm-up', payload: { n } }),
    }
  }
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
}
