import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import {
  callbackOptions,
  CallbackSender,
  JOB_ID_MAX_LENGTH,
  JobStatusStore,
  loadJobTypes,
  startOpsServer,
  type IngressConfig,
  type NatsHandle,
  type OpsServer,
} from '@sluice/core'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { ApiKeyRing } from './auth/api-key-ring.ts'
import { apiKeyAuthPlugin, reloadApiKeys } from './auth/auth-plugin.ts'
import { answerClientError } from './client-errors.ts'
import { capConnectionsPerAddress } from './connection-cap.ts'
import { refuseWhileClosing } from './closing.ts'
import { exactRateStore } from './exact-rate-store.ts'
import { createIngressMetrics } from './ingress-metrics.ts'
import { JobPublisher } from './job-publisher.ts'
import { limitJsonDepth } from './json-depth.ts'
import { shedWhileRefusing } from './load-shedding.ts'
import { methodNotAllowed } from './method-not-allowed.ts'
import { SECURITY_HEADERS } from './security-headers.ts'
import { jobTypeRefusal } from './job-type-check.ts'
import { AcceptPathWarmUp, type WarmUpResult, type WarmUpRoute } from './warm-up.ts'
import { errorHandlerPlugin } from './plugins/error-handler.ts'
import { queuePlugin, type QueueServices } from './plugins/queue-plugin.ts'
import { registerOpenApiDocument } from './openapi-document.ts'
import { refuseMalformedQueries } from './query-encoding.ts'
import { ProblemType, sendProblem } from './problem.ts'
import { QueueInfoReader } from './queue-info.ts'
import { requestIdFor } from './request-id.ts'
import { batchRoute } from './routes/batch-route.ts'
import { deadLettersRoutes } from './routes/dead-letters-routes.ts'
import { healthRoutes, readinessProblems } from './routes/health-routes.ts'
import { jobsRoutes } from './routes/jobs-routes.ts'
import { openApiRoute } from './routes/openapi-route.ts'
import { queueRoute } from './routes/queue-route.ts'
import { seedRoute } from './routes/seed-route.ts'

/** What the ingress needs from the outside: its config, a NATS connection and a logger. */
export interface IngressDependencies {
  readonly config: IngressConfig
  readonly nats: NatsHandle
  readonly logger: Logger
}

/** A built ingress: the Fastify app (not listening yet) and the switch that starts a graceful drain. */
export interface Ingress {
  readonly app: FastifyInstance
  /** Fails `/readyz` so traffic moves away; call before `app.close()`. */
  startDraining(): void
  /**
   * Runs the accept path INGRESS_WARMUP_REQUESTS times with every publish diverted from the queue
   * (warm-up.ts), so the first requests after start are not the slow ones. Before `app.listen()`.
   */
  warmUp(): Promise<WarmUpResult>
  /** What keeps the ingress from taking jobs now (empty: ready). */
  readinessProblems(): Promise<string[]>
  /** Re-reads the API keys file now (it is also re-read every 10 s); nothing without INGRESS_AUTH=api-key. */
  reloadApiKeys(): void
  /**
   * Starts `/healthz`, `/readyz` and `/metrics` on INGRESS_OPS_PORT, a server of their own, so a flood of
   * API connections cannot fail the kubelet's probes. Close it after `app.close()`.
   */
  startOps(): Promise<OpsServer>
}

// Prefix length by which IPv6 clients are counted.
const IPV6_CLIENT_PREFIX = 64
// How often Node checks the header and request timeouts; its default (30 s) let a slow request live twice
// INGRESS_REQUEST_TIMEOUT_MS.
const TIMEOUT_CHECK_INTERVAL_MS = 1000
// Management calls (stream and consumer info, job lookups) get their own short bound.
const MANAGEMENT_TIMEOUT_MS = 2000
// Left of INGRESS_DRAIN_MS, after the callbacks' last chance, for closing the ops server and NATS.
const CLOSE_AFTER_CALLBACKS_MS = 1000

/** Builds the ingress app. The streams must already exist (see `applyQueueStreams`). */
export async function buildIngress({ config, nats, logger }: IngressDependencies): Promise<Ingress> {
  const js = jetstream(nats.nc, { timeout: config.ingress.publishTimeoutMs })
  const jsm = await jetstreamManager(nats.nc, { timeout: MANAGEMENT_TIMEOUT_MS, checkAPI: false })
  const publisher = new JobPublisher(nats.nc, config.queue, {
    maxInflight: config.ingress.maxInflight,
    timeoutMs: config.ingress.publishTimeoutMs,
    isConnected: nats.isConnected,
  })
  let draining = false
  let drainUntil = 0
  const metrics = createIngressMetrics(() => publisher.inflight)
  const callbacks = new CallbackSender(callbackOptions(config.queue), logger, metrics.registry, 'ingress')
  const services: QueueServices = {
    config,
    publisher,
    statusStore: await JobStatusStore.open(js, config.queue.statusBucket),
    info: new QueueInfoReader(jsm, config.queue, config.ingress.queueInfoCacheMs, nats.isConnected),
    jsm,
    nc: nats.nc,
    metrics,
    callbacks,
    isConnected: nats.isConnected,
    isDraining: () => draining,
  }
  const debugEnabled = logger.isLevelEnabled('debug')
  const warmUp = new AcceptPathWarmUp()
  const keyRing = config.ingress.auth === 'api-key' ? new ApiKeyRing(config.ingress.apiKeysFile!) : undefined

  const app = Fastify({
    keepAliveTimeout: config.ingress.keepAliveTimeoutMs,
    requestTimeout: config.ingress.requestTimeoutMs,
    // A new connection that sends nothing is closed after the headers timeout too.
    http: { headersTimeout: config.ingress.headersTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    // Requests Node's parser refused get problem+json too, and no body for HEAD (see client-errors.ts).
    clientErrorHandler: answerClientError,
    // So do URLs the router cannot decode (`/%`) or over-long path parameters; no route's hooks run for
    // them, so the headers every answer carries are set here.
    frameworkErrors: (error, request, reply) => {
      reply.headers(SECURITY_HEADERS).header('x-request-id', request.id)
      return sendProblem(reply, ProblemType.invalidRequest, error.message)
    },
    loggerInstance: logger as FastifyBaseLogger,
    // Off unless INGRESS_TRUST_PROXY names the proxies: X-Forwarded-For from anyone else is ignored, so a
    // client cannot pick the address the rate limit and the failed-authentication count see.
    trustProxy: config.ingress.trustProxy === '' ? false : config.ingress.trustProxy,
    bodyLimit: config.queue.jobMaxBytes,
    // A job id is a path parameter (`/v1/jobs/:id`); the router's default cap (100) would refuse ids the
    // API accepts as Idempotency-Keys.
    routerOptions: { maxParamLength: JOB_ID_MAX_LENGTH },
    genReqId: requestIdFor,
    // Two info lines per request would cost more than the publish; one line is logged below instead.
    logController: new LogController({ requestIdLogLabel: 'reqId', disableRequestLogging: true }),
    // The framework's answer skips every hook and has no Retry-After; closing.ts answers instead.
    return503OnClosing: false,
    // Strict validation: no silent type coercion, and unknown fields are an error rather than dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  })

  // Bodies are buffered before anything else runs, so their memory is bounded per connection, not per
  // publish: cap the connections (JOB_MAX_BYTES × INGRESS_MAX_CONNECTIONS is the most bodies can hold).
  app.server.maxConnections = config.ingress.maxConnections
  capConnectionsPerAddress(app.server, config.ingress.maxConnectionsPerAddress)
  refuseWhileClosing(app)
  // In onSend, so that every answer carries them, whichever hook or route gave it.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.headers(SECURITY_HEADERS).header('x-request-id', request.id)
    // While draining, answers close their connection: a kept-alive socket would hold app.close() open.
    if (draining) reply.header('connection', 'close')
    // A refusal before the body was read (401, 403, 413, 429...) closes the connection, so the sender of an
    // unwanted body cannot keep its slot by sending it slowly.
    else if (reply.statusCode >= 400 && reply.statusCode < 500 && !request.raw.complete) reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onResponse', (request, reply, done) => {
    // Client mistakes are worth a line each; load shedding (503/429) is counted in metrics, since logging
    // every shed request would add cost exactly when the ingress is busiest.
    const status = reply.statusCode
    const refused = status >= 400 && status !== 503 && status !== 429
    if (refused || debugEnabled) {
      // The path only: a query string may carry a key or a token a client put there.
      const line = { method: request.method, url: request.url.split('?', 1)[0], statusCode: status, ms: Math.round(reply.elapsedTime * 100) / 100 }
      if (refused) request.log.info(line, 'request refused')
      else request.log.debug(line, 'request completed')
    }
    done()
  })
  app.addHook('onClose', async () => publisher.close())
  // The callbacks of jobs cancelled here get what the drain leaves them; those still held then are dropped.
  app.addHook('onClose', async () => callbacks.close(Math.max(0, drainUntil - CLOSE_AFTER_CALLBACKS_MS - Date.now())))
  await registerOpenApiDocument(app, { apiKeys: config.ingress.auth === 'api-key', rateLimit: config.ingress.rateLimitPerSecond > 0 })
  await app.register(queuePlugin, { services })
  await app.register(errorHandlerPlugin, { retryAfterSeconds: config.ingress.retryAfterSeconds })
  refuseMalformedQueries(app)
  limitJsonDepth(app, config.queue.jobMaxDepth)
  if (keyRing) await app.register(apiKeyAuthPlugin, { ring: keyRing, admits: (request) => warmUp.admits(request) })
  if (config.ingress.rateLimitPerSecond > 0) {
    await app.register(rateLimit, {
      global: true,
      max: config.ingress.rateLimitPerSecond,
      timeWindow: 1000,
      // Every route is limited (the open seed route too, per address); only the probes and metrics opt out.
      // A client is its key, else its address, an IPv6 address by its /64 (one host usually holds a whole
      // /64, so per address it would get 2^64 buckets).
      // (No address: the start-up warm-up's Unix socket, whose requests allowList lets through.)
      keyGenerator: (request) => request.apiKey?.label ?? (request.ip ? normalizeIP(request.ip, IPV6_CLIENT_PREFIX) : 'local'),
      store: exactRateStore(config.ingress.rateLimitClients),
      // The start-up warm-up's requests, sent before the ingress listens, would spend its own bucket.
      allowList: (request) => warmUp.admits(request),
    })
  }
  // Before the routes: it adds its hook to each route that enqueues as the route is added.
  shedWhileRefusing(app, publisher)
  const answerOtherMethods = methodNotAllowed(app)
  // Read once, for every route that enqueues: a file that cannot be used stops the ingress at start-up.
  const jobTypes = loadJobTypes(config.queue.jobTypesFile)
  if (config.ingress.seedRoute !== 'off') await app.register(seedRoute, { scope: config.ingress.seedRoute === 'protected' ? 'submit' : 'public', jobTypes })
  await app.register(jobsRoutes, { jobTypes })
  await app.register(batchRoute, { jobTypes })
  await app.register(queueRoute)
  await app.register(deadLettersRoutes)
  await app.register(healthRoutes, { keyRing })
  await app.register(openApiRoute)
  answerOtherMethods()
  // What the warm-up can run to the end: the seed route (the busiest, so three turns in four) unless a
  // types file leaves out its type, and `POST /v1/jobs` when any type is taken (no file to satisfy).
  const seedWarmsUp = config.ingress.seedRoute !== 'off' && jobTypeRefusal(jobTypes, 'user', { user_id: 'warm-up' }) === undefined
  const warmUpRoutes: WarmUpRoute[] = [...(seedWarmsUp ? (['seed', 'seed', 'seed'] as const) : []), ...(jobTypes === undefined ? (['jobs'] as const) : [])]

  return {
    app,
    warmUp: () => warmUp.run(app, nats.nc, publisher, metrics, { requests: config.ingress.warmUpRequests, routes: warmUpRoutes }, logger),
    startDraining() {
      draining = true
      drainUntil = Date.now() + config.ingress.drainMs
    },
    readinessProblems: () => readinessProblems(services, keyRing),
    reloadApiKeys: () => keyRing && reloadApiKeys(keyRing, app.log),
    startOps: () =>
      startOpsServer({
        host: config.ingress.host,
        port: config.ingress.opsPort,
        registry: metrics.registry,
        isReady: async () => (await readinessProblems(services, keyRing)).length === 0,
      }),
  }
}
