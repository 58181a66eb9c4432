import autocannon from 'autocannon'

/** One autocannon run, reduced to the figures the report uses. */
export interface LoadResult {
  /** Requests per second answered with the expected status. */
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Answers by status code. */
  readonly statusCounts: Record<string, number>
  readonly errors: number
}

/**
 * Options of one run: fixed connections, fixed duration, as fast as the server answers. (For latency at a
 * given rate see paced-load.ts: autocannon's rate option sends each second's quota in a burst.)
 */
export interface LoadOptions {
  readonly url: string
  readonly method?: 'GET' | 'POST'
  readonly body?: string
  readonly headers?: Record<string, string>
  readonly connections: number
  readonly durationSeconds: number
  /** The status that counts as success for `rps`. */
  readonly expectStatus: number
}

/** Runs autocannon and reports throughput of `expectStatus` answers and latency percentiles. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    ...(options.body === undefined ? {} : { body: options.body }),
    headers: options.headers ?? {},
    connections: options.connections,
    duration: options.durationSeconds,
  })
  const statusCounts: Record<string, number> = {}
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = (stats as { count: number }).count
  const matching = statusCounts[String(options.expectStatus)] ?? 0
  return {
    rps: Math.round(matching / result.duration),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    statusCounts,
    errors: result.errors + result.timeouts,
  }
}
