import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

/** What a process (worker, autoscaler, the ingress apart from its API) exposes to Kubernetes and Prometheus. */
export interface OpsServerOptions {
  readonly host: string
  /** 0 picks a free port; read the chosen one from the result. */
  readonly port: number
  readonly registry: Registry
  /** Readiness: false makes `/readyz` answer 503 (a rejected promise too). */
  readonly isReady: () => boolean | Promise<boolean>
}

/** A running ops server. */
export interface OpsServer {
  readonly port: number
  close(): Promise<void>
}

/**
 * A tiny HTTP server with `/healthz` (the process is alive), `/readyz` (it can do its job) and `/metrics`.
 * Plain node:http: three fixed routes do not need a framework.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') return problem(res, 405, 'Method Not Allowed', 'only GET is served here')
    if (path === '/healthz') return json(res, 200, { status: 'ok' })
    if (path === '/readyz') {
      Promise.resolve()
        .then(options.isReady)
        .then(
          (ready) => (ready ? json(res, 200, { status: 'ready' }) : json(res, 503, { status: 'not ready' })),
          () => json(res, 503, { status: 'not ready' }),
        )
      return
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': options.registry.contentType })
          res.end(text)
        },
        () => problem(res, 503, 'Metrics Unavailable', 'collecting metrics failed'),
      )
      return
    }
    problem(res, 404, 'Not Found', `no route ${path}`)
  })
  // Probes are short; a stuck client must not hold a socket for long.
  server.requestTimeout = 10_000
  server.headersTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, resolve)
  })
  let closing: Promise<void> | undefined
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(body))
}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8' })
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }))
}
