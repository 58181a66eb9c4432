import type { WorkerSettings } from '@sluice/core'
import { defineHandler } from '../handlers/define-handler.ts'
import type { HandlerDefinition, JobHandler } from '../handlers/job-handler.ts'
import { PushEndpoint, type PushOptions } from './push-endpoint.ts'

/** The HTTP push handlers the settings ask for. */
export interface PushHandlers {
  /** One per type in WORKER_HTTP_TYPE_URLS. */
  readonly byType: readonly HandlerDefinition[]
  /** WORKER_HTTP_URL's, for every type without a handler of its own; undefined when unset. */
  readonly fallback: JobHandler | undefined
}

/**
 * Builds the handlers that push jobs over HTTP (WORKER_HTTP_URL, WORKER_HTTP_TYPE_URLS). Types that share a
 * URL share its endpoint, and so its bound on concurrent requests.
 */
export function pushHandlers(settings: WorkerSettings): PushHandlers {
  const options: PushOptions = {
    timeoutMs: settings.httpTimeoutMs,
    concurrency: settings.httpConcurrency,
    signingSecret: settings.httpSigningSecret,
    resultMaxBytes: settings.resultMaxBytes,
  }
  const endpoints = new Map<string, PushEndpoint>()
  const endpoint = (url: string): PushEndpoint => {
    let found = endpoints.get(url)
    if (!found) {
      found = new PushEndpoint(url, options)
      endpoints.set(url, found)
    }
    return found
  }
  const byType = parseTypeUrls(settings.httpTypeUrls).map(([type, url]) => defineHandler(type, endpoint(url).handler))
  return { byType, fallback: settings.httpUrl ? endpoint(settings.httpUrl).handler : undefined }
}

// The setting's pattern already checked the shape: `<type>=<url>,...`.
function parseTypeUrls(value: string): [string, string][] {
  if (value === '') return []
  return value.split(',').map((pair) => {
    const at = pair.indexOf('=')
    return [pair.slice(0, at), pair.slice(at + 1)]
  })
}
