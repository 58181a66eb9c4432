import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv } from '../support/queue-env.ts'
import { ApiContract, type QueueRoom } from './api-contract.ts'
import { describeRequest, fuzzRequestArbitrary, type FuzzRequest } from './http-requests.ts'
import { printFigures } from './sluice-deployment.ts'

const JOB_MAX_BYTES = 65_536
// Small, so the queue-full 503 is among the answers; no worker empties it.
const QUEUE_CAPACITY = 20
const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
// Memory: after WARM_UP requests (compiled code, caches, the queue full), MEASURED more may leave at most
// RETAINED_GROWTH_LIMIT_BYTES more heap and external memory reachable once collected. Measured: 0.25 to
// 0.33 MiB over runs of this file, 0.52 to 0.67 MiB for this test alone (these seeds or others). What a
// leak adds, measured the same way: 1 KiB kept per request, 1.5 to 1.9 MiB (fails); a request object kept,
// 25 MiB (fails); a 100-byte record kept per request, about 0.45 MiB more (passes: leaks that small are
// left to the long run, whose RSS must stay flat for minutes).
const WARM_UP = 300
const MEASURED = 1200
const RETAINED_GROWTH_LIMIT_BYTES = 1024 * 1024

// A full collection on demand: the flag is set at run time, and `gc` is taken from a fresh context.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** Heap and external memory still reachable once collections and the callbacks they let run are done. */
async function retainedBytes(): Promise<number> {
  // A collection alone is not enough: what requests leave to finalisers and immediates (about 11 KiB a
  // request answered without any I/O) is freed only once the event loop has turned. Each pass collects,
  // then lets those callbacks run; this waits for no time, only for work already queued.
  for (let pass = 0; pass < 4; pass++) {
    collectGarbage()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const { heapUsed, external } = process.memoryUsage()
  return heapUsed + external
}

/** The URL as `inject` hands it to the server: resolved as a WHATWG URL (dot segments, fragments), as light-my-request does. */
function asInjected(url: string): string {
  const resolved = new URL(url.startsWith('//') ? `http://localhost${url}` : url, 'http://localhost')
  return `${resolved.pathname}${resolved.search}`
}

const server = await startNatsServer()

describe('http fuzz', () => {
  const env = queueEnv(server.url, { QUEUE_MAX_MESSAGES: String(QUEUE_CAPACITY), JOB_MAX_BYTES: String(JOB_MAX_BYTES) })
  let ingress: InProcessIngress
  let contract: ApiContract
  // Jobs the queue holds (nothing takes them out), and the ids they were stored under.
  let stored = 0
  const storedIds = new Set<string>()

  beforeAll(async () => {
    ingress = await startIngress(env)
    const { queue } = ingressConfigFor(env)
    const document = (await ingress.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    contract = ApiContract.fromDocument(document, { jobMaxBytes: queue.jobMaxBytes, jobMaxDepth: queue.jobMaxDepth })
  })
  afterAll(async () => {
    await ingress?.close()
    await server.close()
  })

  function roomFor(request: FuzzRequest): QueueRoom {
    const key = request.headers['idempotency-key']
    // A repeated id is answered as a duplicate, or refused while the queue is full: either is documented.
    if (key !== undefined && storedIds.has(key)) return 'unknown'
    return stored >= QUEUE_CAPACITY ? 'full' : 'room'
  }

  /** Sends `request` and returns why its answer breaks the contract, or undefined. */
  async function exchange(request: FuzzRequest): Promise<{ status: number; violation: string | undefined }> {
    const room = roomFor(request)
    const answer = await ingress.app.inject({
      method: request.method,
      url: request.url,
      headers: { ...request.headers },
      ...(request.body ? { payload: Buffer.from(request.body) } : {}),
    })
    const header = (name: string) => (answer.headers[name] === undefined ? undefined : String(answer.headers[name]))
    const received = { ...request, url: asInjected(request.url) }
    const violation = contract.violation(
      received,
      { status: answer.statusCode, contentType: header('content-type'), retryAfter: header('retry-after'), allow: header('allow'), body: answer.body },
      room,
    )
    const path = received.url.split('?')[0]
    const newJob =
      (path === '/v1/jobs' && answer.statusCode === 202 && answer.json<{ duplicate: boolean }>().duplicate === false) ||
      (path === '/' && answer.statusCode === 200)
    if (newJob) {
      stored++
      if (request.headers['idempotency-key'] !== undefined) storedIds.add(request.headers['idempotency-key'])
    }
    return { status: answer.statusCode, violation: violation && `${violation}\n  request: ${describeRequest(request)}\n  answer: ${answer.body.slice(0, 300)}` }
  }

  it('http fuzz - JSON nested thousands deep (payload or whole body) is the documented 400 (or 413 past JOB_MAX_BYTES), never a 500', async () => {
    // Re-serialising such a payload for the queue would overflow the stack (JSON.stringify recurses), so
    // these must be refused before that; the random run reaches them only now and then.
    for (const depth of [33, 1000, 5000, 20_000]) {
      for (const json of [`{"type":"user","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`]) {
        const request: FuzzRequest = { method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode(json) }
        const { status, violation } = await exchange(request)
        expect(violation, `depth ${depth}`).toBeUndefined()
        expect(status, `depth ${depth}`).toBe(json.length > JOB_MAX_BYTES ? 413 : 400)
      }
    }
  })

  it(`http fuzz - ${RUNS} random requests (methods, paths, queries, headers, bodies): each gets an answer the API documents for it, the app keeps answering`, async () => {
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(fuzzRequestArbitrary(JOB_MAX_BYTES), async (request) => {
        const { status, violation } = await exchange(request)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (violation) throw new Error(violation)
      }),
      { numRuns: RUNS },
    )
    printFigures('http fuzz (in process)', Object.fromEntries([...statuses].sort(([a], [b]) => a - b).map(([status, count]) => [String(status), count])))
    // The generator reaches the API's main answers, not only 404s: stored jobs, refusals of every kind,
    // and the queue-full 503.
    for (const status of [200, 202, 400, 404, 405, 415, 503]) expect(statuses.get(status) ?? 0, `answers ${status}`).toBeGreaterThan(0)
    // Still serving after everything it was sent.
    expect((await ingress.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it(`http fuzz - ${MEASURED} random requests after ${WARM_UP} leave at most ${RETAINED_GROWTH_LIMIT_BYTES / 1024 / 1024} MiB more memory reachable`, async () => {
    const arbitrary = fuzzRequestArbitrary(JOB_MAX_BYTES)
    // Fixed seeds: the same requests every run, so the figure moves only when the ingress does.
    for (const request of fc.sample(arbitrary, { numRuns: WARM_UP, seed: 1 })) await exchange(request)
    const before = await retainedBytes()
    for (const request of fc.sample(arbitrary, { numRuns: MEASURED, seed: 2 })) await exchange(request)
    const growth = (await retainedBytes()) - before
    printFigures('http fuzz memory', { growthKiB: Math.round(growth / 1024) })
    expect(growth).toBeLessThan(RETAINED_GROWTH_LIMIT_BYTES)
  })
})
