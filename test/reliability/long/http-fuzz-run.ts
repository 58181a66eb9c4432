import { Agent, request as httpRequest } from 'node:http'
import fc from 'fast-check'
import type { NatsServerFixture } from '../../support/nats-server.ts'
import { ingressConfigFor, queueEnv } from '../../support/queue-env.ts'
import { ApiContract, type Answer } from '../api-contract.ts'
import { describeRequest, fuzzRequestArbitrary, type FuzzRequest } from '../http-requests.ts'
import { SluiceDeployment } from '../sluice-deployment.ts'
import { RssSampler, type RssFigures } from './rss-sampler.ts'

const JOB_MAX_BYTES = 65_536
// docs/api.md "Errors": headers over Node's 16 KiB limit are a 431 before any route sees them. Requests within
// a request line's worth of it may go either way.
const HEADER_LIMIT_BYTES = 16 * 1024
const HEADER_MARGIN_BYTES = 1024
const CONCURRENCY = 8
const KEPT_FAILURES = 20

/** What the long fuzz run saw. */
export interface FuzzRunResult {
  readonly seconds: number
  readonly requests: number
  readonly statuses: ReadonlyMap<number, number>
  /** Requests the server answered by closing the socket (e.g. a header it refuses); not a failure in itself. */
  readonly connectionErrors: number
  /** Connection errors by code (ECONNRESET, EPIPE, ...), with one request that caused each. */
  readonly connectionErrorKinds: ReadonlyMap<string, { count: number; example: string }>
  /** Answers outside the contract, the first ones described. */
  readonly undocumented: readonly string[]
  readonly undocumentedCount: number
  /** Whether the ingress process was still running (and answering /healthz) at the end. */
  readonly survived: boolean
  readonly rss: readonly RssFigures[]
}

/** Bytes of `fuzz`'s header section as sent (name, value, separators). */
function headerBytes(fuzz: FuzzRequest): number {
  return Object.entries(fuzz.headers).reduce((total, [name, value]) => total + name.length + value.length + 4, fuzz.url.length + 20)
}

/** `fuzz` as the server reads it: HTTP drops the blanks around a header value (RFC 9110 5.5). */
function asReceived(fuzz: FuzzRequest): FuzzRequest {
  return { ...fuzz, headers: Object.fromEntries(Object.entries(fuzz.headers).map(([name, value]) => [name, value.trim()])) }
}

function send(agent: Agent, base: URL, fuzz: FuzzRequest): Promise<Answer> {
  // Framed as any client frames a body. Node's client sends the body of a GET, HEAD, DELETE or OPTIONS
  // without a Content-Length, so the server reads it as the start of the next request on the connection.
  const headers = fuzz.body ? { ...fuzz.headers, 'content-length': String(fuzz.body.length) } : fuzz.headers
  return new Promise((resolve, reject) => {
    const req = httpRequest({ agent, host: base.hostname, port: base.port, method: fuzz.method, path: fuzz.url, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('end', () => {
        const allow = res.headers.allow
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'],
          contentType: res.headers['content-type'],
          allow,
          body: Buffer.concat(chunks).toString('utf8'),
        })
      })
      res.once('error', reject)
    })
    req.once('timeout', () => req.destroy(new Error('client timeout')))
    req.once('error', reject)
    req.end(fuzz.body ? Buffer.from(fuzz.body) : undefined)
  })
}

/**
 * Random requests over real HTTP against an ingress process (so Node's own parser and socket handling are
 * part of it) for `seconds`, `CONCURRENCY` at a time; its RSS is sampled every 2 s.
 */
export async function runHttpFuzz(server: NatsServerFixture, seconds: number, progress: (line: string) => void): Promise<FuzzRunResult> {
  // A small queue so queue-full shedding is among the answers; no worker, so it stays full.
  const deployment = await SluiceDeployment.create(queueEnv(server.url, { QUEUE_MAX_MESSAGES: '50', JOB_MAX_BYTES: String(JOB_MAX_BYTES) }))
  const rss = new RssSampler(2000)
  const agent = new Agent({ keepAlive: process.env.FUZZ_KEEP_ALIVE !== '0', maxSockets: CONCURRENCY })
  const statuses = new Map<number, number>()
  const undocumented: string[] = []
  let undocumentedCount = 0
  let connectionErrors = 0
  const connectionErrorKinds = new Map<string, { count: number; example: string }>()
  let requests = 0
  try {
    const ingress = await deployment.addIngress()
    rss.track('ingress (fuzz)', ingress.pid)
    const base = new URL(ingress.baseUrl)
    const document: unknown = await (await fetch(`${ingress.baseUrl}/openapi.json`)).json()
    const { queue } = ingressConfigFor(deployment.env)
    const contract = ApiContract.fromDocument(document, { jobMaxBytes: queue.jobMaxBytes, jobMaxDepth: queue.jobMaxDepth })
    const arbitrary = fuzzRequestArbitrary(JOB_MAX_BYTES)
    const endAt = Date.now() + seconds * 1000
    progress(`fuzz: random HTTP requests for ${seconds} s against ${ingress.baseUrl}`)
    const lane = async (): Promise<void> => {
      while (Date.now() < endAt && ingress.exit() === undefined) {
        for (const fuzz of fc.sample(arbitrary, 50)) {
          requests++
          try {
            const answer = await send(agent, base, fuzz)
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
            const size = headerBytes(fuzz)
            const tooLarge = answer.status === 431 && size > HEADER_LIMIT_BYTES - HEADER_MARGIN_BYTES
            // Lanes overlap, so whether the queue had room is unknown: both a 2xx and a 503 are allowed there.
            const violation = tooLarge ? undefined : contract.violation(asReceived(fuzz), answer, 'unknown')
            const headersOver = size > HEADER_LIMIT_BYTES + HEADER_MARGIN_BYTES && answer.status !== 431
            if (violation || headersOver) {
              undocumentedCount++
              if (undocumented.length < KEPT_FAILURES)
                undocumented.push(`${headersOver ? `${answer.status} for headers over 16 KiB` : violation} for ${describeRequest(fuzz)}`)
            }
          } catch (error) {
            connectionErrors++
            const kind = `${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (${fuzz.body ? 'with' : 'no'} body)`
            const seen = connectionErrorKinds.get(kind)
            if (seen) seen.count++
            else connectionErrorKinds.set(kind, { count: 1, example: describeRequest(fuzz) })
          }
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, lane))
    const healthy =
      ingress.exit() === undefined &&
      (await fetch(`${ingress.baseUrl}/healthz`).then(
        (response) => response.ok,
        () => false,
      ))
    return { seconds, requests, statuses, connectionErrors, connectionErrorKinds, undocumented, undocumentedCount, survived: healthy, rss: rss.stop() }
  } finally {
    rss.stop()
    agent.destroy()
    await deployment.close()
  }
}
