// The load generator's ceiling on this machine: a server that answers every request with one fixed
// response, parsing nothing but the end of each request head (GET only, no bodies). It costs next to no
// CPU, so what the load generator (wrk) reaches against it is the most any server could show on these cores with this
// client, for a response of that size. Started by bench/run.ts with the response to replay in
// BENCH_CANNED_RESPONSE (JSON: status, headers, body); prints its port when ready.
import { createServer } from 'node:net'

interface CannedResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

const canned = JSON.parse(process.env.BENCH_CANNED_RESPONSE ?? '{"status":200,"headers":{},"body":""}') as CannedResponse
const head = [`HTTP/1.1 ${canned.status} X`, ...Object.entries(canned.headers).map(([name, value]) => `${name}: ${value}`)]
head.push(`content-length: ${Buffer.byteLength(canned.body)}`, 'connection: keep-alive')
const response = Buffer.from(`${head.join('\r\n')}\r\n\r\n${canned.body}`)
const END_OF_HEAD = Buffer.from('\r\n\r\n')

const server = createServer((socket) => {
  socket.setNoDelay(true)
  let pending = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    let answers = 0
    let at = pending.indexOf(END_OF_HEAD)
    while (at !== -1) {
      answers++
      pending = pending.subarray(at + END_OF_HEAD.length)
      at = pending.indexOf(END_OF_HEAD)
    }
    // Pipelined requests get their answers in one write, as a real server's would be queued.
    if (answers === 1) socket.write(response)
    else if (answers > 1) socket.write(Buffer.concat(Array.from({ length: answers }, () => response)))
  })
  socket.on('error', () => socket.destroy())
})
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }))
})
process.once('SIGTERM', () => process.exit(0))
