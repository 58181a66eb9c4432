import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import { printFigures } from './sluice-deployment.ts'
import { describeRequest, fuzzRequestArbitrary, isDocumentedAnswer, type FuzzRequest } from './http-requests.ts'

const JOB_MAX_BYTES = 65_536
const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
// Generous: the run allocates bodies up to JOB_MAX_BYTES and Node frees lazily; a leak per request would
// still show, since hundreds of requests times a retained body pass it. The long run measures RSS properly.
const RSS_GROWTH_LIMIT_BYTES = 256 * 1024 * 1024

const server = await startNatsServer()

describe('http fuzz', () => {
  let ingress: InProcessIngress

  beforeAll(async () => {
    // A small queue, so the queue-full 503 is among the answers.
    ingress = await startIngress(queueEnv(server.url, { QUEUE_MAX_MESSAGES: '20', JOB_MAX_BYTES: String(JOB_MAX_BYTES) }))
  })
  afterAll(async () => {
    await ingress?.close()
    await server.close()
  })

  async function send(request: FuzzRequest) {
    return ingress.app.inject({
      method: request.method,
      url: request.url,
      headers: { ...request.headers },
      ...(request.body ? { payload: Buffer.from(request.body) } : {}),
    })
  }

  function check(request: FuzzRequest, answer: Awaited<ReturnType<typeof send>>): void {
    const retryAfter = answer.headers['retry-after']
    const contentType = answer.headers['content-type']
    const documented = isDocumentedAnswer(request, answer.statusCode, {
      retryAfter: retryAfter === undefined ? undefined : String(retryAfter),
      contentType: contentType === undefined ? undefined : String(contentType),
    })
    if (!documented) throw new Error(`undocumented ${answer.statusCode} for ${describeRequest(request)}: ${answer.body.slice(0, 300)}`)
    // Problem bodies must parse and agree with the status line.
    if (String(contentType ?? '').startsWith('application/problem+json') && request.method !== 'HEAD') {
      expect(JSON.parse(answer.body)).toMatchObject({ status: answer.statusCode })
    }
  }

  it('http fuzz - JSON nested thousands deep (payload or whole body) is a 4xx, never a 500', async () => {
    // Re-serialising such a payload for the queue would overflow the stack (JSON.stringify recurses), so
    // these must be refused before that; the random run reaches them only now and then.
    for (const depth of [33, 1000, 5000, 20_000]) {
      for (const json of [`{"type":"user","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`]) {
        const request: FuzzRequest = { method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode(json) }
        const answer = await send(request)
        expect(answer.statusCode, `depth ${depth}: ${answer.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400)
        expect(answer.statusCode, `depth ${depth}: ${answer.body.slice(0, 200)}`).toBeLessThan(500)
      }
    }
  })

  it(`http fuzz - ${RUNS} random requests (methods, paths, queries, headers, bodies): only documented answers, the app keeps answering`, async () => {
    const rssBefore = process.memoryUsage().rss
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(fuzzRequestArbitrary(JOB_MAX_BYTES), async (request) => {
        const answer = await send(request)
        statuses.set(answer.statusCode, (statuses.get(answer.statusCode) ?? 0) + 1)
        check(request, answer)
      }),
      { numRuns: RUNS },
    )
    printFigures('http fuzz (in process)', Object.fromEntries([...statuses].sort(([a], [b]) => a - b).map(([status, count]) => [String(status), count])))
    // The generator reaches the API's main answers, not only 404s.
    for (const status of [200, 202, 400, 404, 503]) expect(statuses.get(status) ?? 0, `answers ${status}`).toBeGreaterThan(0)
    // Still serving after everything it was sent.
    expect((await ingress.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_BYTES)
  })
})
