import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { PROBLEM_CONTENT_TYPE, ProblemType, type ProblemKind } from './problem.ts'
import { SECURITY_HEADERS } from './security-headers.ts'

/** What Node's HTTP server passes with a `clientError`: `rawPacket` holds the bytes it could not parse. */
export type ClientError = Error & { code?: string; rawPacket?: unknown }

/**
 * Answers a request that Node's HTTP parser refused before any route saw it: malformed request lines or
 * headers (400), headers over Node's size limit (431), a request that did not arrive in time (408). The
 * framework's default writes a JSON body of its own, and writes it even to a HEAD request, whose client
 * then reads that body as the start of the next answer. Here the answer is problem+json like every other
 * 4xx, has no body for HEAD (nor when the method cannot be known, see below), and closes the connection,
 * which the parser can no longer follow.
 *
 * Answers still owed on the same connection (pipelined requests before the broken one) are written first:
 * the error is written once the last of them is, so that no earlier request gets it as its answer.
 */
export function answerClientError(error: ClientError, socket: Socket): void {
  // A reset connection has nobody to answer; the parser may report more errors for a socket already handled.
  if (error.code === 'ECONNRESET' || socket.destroyed || answering.has(socket)) return
  answering.add(socket)
  // An answer that never comes must not hold the socket open.
  const giveUp = setTimeout(() => socket.destroy(), OWED_ANSWERS_WAIT_MS).unref()
  const answer = (write: boolean) => {
    clearTimeout(giveUp)
    if (write && socket.writable) socket.write(clientErrorAnswer(error))
    socket.destroy()
  }
  const afterOwedAnswers = (): void => {
    const owed = owedAnswer(socket)
    if (!owed) answer(true)
    // The broken bytes are the body of the request being answered: the error is its answer, if none began.
    else if (!owed.req.complete) answer(!owed.headersSent)
    else owed.once('close', afterOwedAnswers)
  }
  afterOwedAnswers()
}

const answering = new WeakSet<Socket>()
// Longer than the longest wait for a publish's confirmation that INGRESS_PUBLISH_TIMEOUT_MS allows (60 s).
const OWED_ANSWERS_WAIT_MS = 65_000

// Node marks the answer being written on a socket as `_httpMessage` and, once it is written, hands the
// socket to the next pipelined answer before that answer's 'close' event.
function owedAnswer(socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined
}

/** The raw HTTP answer to `error`. */
export function clientErrorAnswer(error: ClientError): string {
  const kind = clientErrorKind(error.code)
  // A HEAD answer must have no body: its client would read one as the start of the next answer. The method
  // shows only when the refused bytes hold the request's line (the last one, after any pipelined before
  // it); headers that overflow in a later read do not, so the body goes only to a request seen to be
  // something else.
  const method = Buffer.isBuffer(error.rawPacket) ? lastRequestMethod(error.rawPacket.toString('latin1')) : undefined
  const body = method !== undefined && method !== 'HEAD' ? JSON.stringify({ ...kind, detail: clientErrorDetail(kind) }) : ''
  const head = [`HTTP/1.1 ${kind.status} ${kind.title}`, ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`)]
  head.push(`content-type: ${PROBLEM_CONTENT_TYPE}`, `content-length: ${Buffer.byteLength(body)}`, 'connection: close')
  return `${head.join('\r\n')}\r\n\r\n${body}`
}

const REQUEST_LINE = /(?:^|\r\n)([A-Z]+) \S+ HTTP\/1\.[01]\r\n/g

function lastRequestMethod(bytes: string): string | undefined {
  let method: string | undefined
  for (const match of bytes.matchAll(REQUEST_LINE)) method = match[1]
  return method
}

function clientErrorKind(code: string | undefined): ProblemKind {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return ProblemType.requestTimeout
  if (code === 'HPE_HEADER_OVERFLOW') return ProblemType.headersTooLarge
  return ProblemType.invalidRequest
}

function clientErrorDetail(kind: ProblemKind): string {
  if (kind === ProblemType.requestTimeout) return 'the request did not arrive in time'
  if (kind === ProblemType.headersTooLarge) return 'the request headers are larger than the server accepts'
  return 'the request is not valid HTTP/1.1'
}
