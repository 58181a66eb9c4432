import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { Gauge } from 'prom-client'
import fp from 'fastify-plugin'
import { ProblemType, sendProblem } from '../problem.ts'
import type { ApiKeyRing, KeyEntry, Scope } from './api-key-ring.ts'
import { AUTH_FAILURES_PER_WINDOW, AuthFailures } from './auth-failures.ts'

/** How often the keys file is re-read, so a rotated Secret takes effect without a restart. */
const RELOAD_INTERVAL_MS = 10_000

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs when API keys are on; `public` routes (probes, metrics, docs) need none. */
    scope?: Scope | 'public'
  }
  interface FastifyRequest {
    /** The key that authenticated this request, when API keys are on. */
    apiKey?: KeyEntry
  }
}

/**
 * API-key authentication: `Authorization: Bearer <key>` or `X-API-Key: <key>`; no or an unknown key is
 * 401, a key without the route's scope is 403, both as problem+json. An address past
 * AUTH_FAILURES_PER_WINDOW failures in a window gets 429 until the window ends (auth-failures.ts).
 * Requests `admits` vouches for need no key.
 */
export const apiKeyAuthPlugin = fp<{ ring: ApiKeyRing; admits: (request: FastifyRequest) => boolean }>(
  async (app, { ring, admits }) => {
    app.log.info({ keys: ring.size }, 'API keys loaded')
    if (ring.problem) app.log.error(ring.problem)
    new Gauge({
      name: 'sluice_ingress_api_keys',
      help: 'API keys accepted now; 0 when the keys file is empty, unreadable or invalid (every request is then refused, and /readyz fails).',
      registers: [app.queue.metrics.registry],
      collect() {
        this.set(ring.size)
      },
    })
    const reload = setInterval(() => reloadApiKeys(ring, app.log), RELOAD_INTERVAL_MS)
    reload.unref()
    app.addHook('onClose', async () => clearInterval(reload))

    const failures = new AuthFailures()
    const failed = (request: FastifyRequest): void => {
      if (failures.fail(request.ip)) {
        request.log.warn({ address: request.ip, failures: AUTH_FAILURES_PER_WINDOW }, 'authentication failures from one address; refusing it for a while')
      }
    }

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const scope = request.routeOptions.config.scope
      // `admits`: the start-up warm-up's own requests (warm-up.ts), sent before the ingress listens.
      if (scope === 'public' || request.routeOptions.url === undefined || admits(request)) return
      // Before the key is looked at, so a guesser learns nothing more once refused.
      const retryAfter = failures.retryAfterSeconds(request.ip)
      if (retryAfter > 0) {
        reply.header('retry-after', String(retryAfter))
        return sendProblem(reply, ProblemType.rateLimited, 'too many failed authentications from this address; see Retry-After')
      }
      const presented = presentedKey(request)
      if (presented === undefined) {
        failed(request)
        return unauthorized(reply, 'an API key is required: Authorization: Bearer <key> or X-API-Key: <key>')
      }
      const entry = ring.find(presented)
      if (!entry) {
        failed(request)
        return unauthorized(reply, 'the API key is not valid')
      }
      request.apiKey = entry
      if (scope !== undefined && !entry.scopes.has(scope)) {
        failed(request)
        return sendProblem(
          reply,
          ProblemType.forbidden,
          `this API key may not ${scope === 'admin' ? 'manage dead letters' : scope === 'read' ? 'read jobs' : 'submit jobs'}`,
        )
      }
    })
  },
  { name: 'sluice-api-keys', fastify: '5.x' },
)

/** Re-reads the keys file, logging an error when it leaves no key valid (fail closed: see ApiKeyRing). */
export function reloadApiKeys(ring: ApiKeyRing, log: FastifyBaseLogger): void {
  const error = ring.reload()
  if (error) log.error({ err: error }, 'API keys file could not be re-read; no key is accepted until it can')
  else if (ring.problem) log.error(ring.problem)
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  // The scheme is case-insensitive (RFC 9110 11.1).
  const bearer = typeof header === 'string' ? /^bearer +(\S+) *$/i.exec(header) : null
  if (bearer) return bearer[1]
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined
}

function unauthorized(reply: FastifyReply, detail: string): FastifyReply {
  reply.header('www-authenticate', 'Bearer realm="sluice"')
  return sendProblem(reply, ProblemType.unauthorized, detail)
}
