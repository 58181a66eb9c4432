import { setTimeout as sleep } from 'node:timers/promises'
import { jetstream, type JsMsg } from '@nats-io/jetstream'
import {
  applyWorkerConsumer,
  callbackOptions,
  CallbackSender,
  JobHeader,
  scheduledConsumerName,
  JobStatusStore,
  PipelinedPublisher,
  startOpsServer,
  type JobTypes,
  type NatsHandle,
  type OpsServer,
  type WorkerConfig,
} from '@sluice/core'
import type { Logger } from 'pino'
import { DeadLetterPublisher } from './dead-letters.ts'
import type { HandlerRegistry, JobHandler } from './handlers/job-handler.ts'
import { JobAttempt } from './job-attempt.ts'
import { JobCancels } from './job-cancels.ts'
import { JobPuller, type JobSource } from './job-puller.ts'
import { JobRunner } from './job-runner.ts'
import { SCHEDULED_WAIT_DELIVERIES } from './scheduled-delivery.ts'
import { createWorkerMetrics, type WorkerMetrics } from './worker-metrics.ts'

/** How often running jobs are checked for heartbeats and their `running` state. */
const SWEEP_INTERVAL_MS = 50
/**
 * Lifetime of one pull request. The server heartbeats an open pull at half of it, and a pull lost with a
 * stream or consumer leader (a NATS node restart, an election) is replaced within about this long. The
 * client default (30 s) left workers idle for half a minute after an election. It also bounds how long a
 * due scheduled job waits for the slots an idle worker's ready pull holds (see JobPuller): about a second
 * after its time. An idle worker sends a pull a second to each consumer, which the server hardly notices.
 */
const PULL_EXPIRES_MS = 1000
/** Longest wait for the server to confirm a state write or a dead letter. */
const PUBLISH_TIMEOUT_MS = 5000

/** What a worker needs from the outside. */
export interface WorkerDependencies {
  readonly config: WorkerConfig
  readonly nats: NatsHandle
  readonly logger: Logger
  readonly handlers: HandlerRegistry
  /** Runs the types `handlers` has no handler for (HTTP push to WORKER_HTTP_URL); none: they are dead-lettered. */
  readonly fallback?: JobHandler | undefined
  /** The job types file (JOB_TYPES_FILE), when set: payloads are checked against their type's schema. */
  readonly jobTypes?: JobTypes | undefined
}

/**
 * Pulls jobs from the durable consumer and runs at most WORKER_CONCURRENCY at once. Jobs are pulled only
 * for free slots (see JobPuller), so a worker holds no more than its concurrency and never sits on a job
 * another worker could run. `close()` drains: stop pulling, let jobs finish within WORKER_DRAIN_MS, hand
 * the rest back for immediate redelivery.
 */
export class Worker {
  readonly metrics: WorkerMetrics
  readonly #deps: WorkerDependencies
  readonly #running = new Set<JobAttempt>()
  readonly #cancels: JobCancels
  readonly #callbacks: CallbackSender
  #puller: JobPuller | undefined
  #ops: OpsServer | undefined
  #sweeper: NodeJS.Timeout | undefined
  #publisher: PipelinedPublisher | undefined
  #stopping = false
  #closing: Promise<void> | undefined

  private constructor(deps: WorkerDependencies) {
    this.#deps = deps
    this.metrics = createWorkerMetrics(() => this.#running.size)
    this.#cancels = new JobCancels(deps.config.queue, this.#running)
    this.#callbacks = new CallbackSender(callbackOptions(deps.config.queue), deps.logger, this.metrics.registry, 'worker')
  }

  /** Starts the health port, waits for the queue, ensures the consumer and starts pulling. */
  static async start(deps: WorkerDependencies): Promise<Worker> {
    const worker = new Worker(deps)
    await worker.#start()
    return worker
  }

  /** The health and metrics port actually bound (useful with WORKER_PORT=0). */
  get opsPort(): number {
    return this.#ops?.port ?? 0
  }

  /** Jobs running now. */
  get inProgress(): number {
    return this.#running.size
  }

  /** Ready = pulling jobs over a live connection. */
  isReady(): boolean {
    return this.#puller !== undefined && !this.#stopping && this.#deps.nats.isConnected()
  }

  async #start(): Promise<void> {
    const { config, nats, logger, handlers, fallback, jobTypes } = this.#deps
    const { queue } = config
    this.#ops = await startOpsServer({ host: config.worker.host, port: config.worker.port, registry: this.metrics.registry, isReady: () => this.isReady() })
    await applyWorkerConsumer(nats.nc, queue, logger)
    const js = jetstream(nats.nc)
    // State writes and dead letters share one pipelined publisher: one socket write per loop turn.
    this.#publisher = new PipelinedPublisher(nats.nc, PUBLISH_TIMEOUT_MS)
    const statusStore = await JobStatusStore.open(js, queue.statusBucket, this.#publisher)
    const deadLetters = new DeadLetterPublisher(this.#publisher, queue)
    const runner = new JobRunner({
      queue,
      handlers,
      fallback,
      jobTypes,
      resultMaxBytes: config.worker.resultMaxBytes,
      statusStore,
      deadLetters,
      callbacks: this.#callbacks,
      metrics: this.metrics,
      logger,
      disconnects: nats.disconnects,
      reconnectedAt: nats.reconnectedAt,
    })
    // The ingress refuses types the file does not list: a handler for one of them would never get a job.
    const unlisted = jobTypes ? [...handlers.keys()].filter((type) => !jobTypes.has(type)) : []
    if (unlisted.length > 0) logger.warn({ types: unlisted }, 'handlers for job types that JOB_TYPES_FILE does not list; the ingress refuses these types')
    // Listening before the first pull: a cancel of a job this worker is about to run must reach it.
    this.#cancels.listen(nats.nc)
    const consumer = await js.consumers.get(queue.stream, queue.consumer)
    const scheduled = await js.consumers.get(queue.stream, scheduledConsumerName(queue))
    this.#puller = new JobPuller(
      consumer,
      { concurrency: config.worker.concurrency, expiresMs: PULL_EXPIRES_MS, ackWaitMs: queue.ackWaitMs, logger },
      (msg, source) => this.#run(msg, source, runner),
      scheduled,
    )
    this.#puller.start()
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS)
    this.#sweeper.unref()
    logger.info(
      { concurrency: config.worker.concurrency, opsPort: this.opsPort, handlers: [...handlers.keys()], fallback: fallback !== undefined },
      'worker started',
    )
  }

  async #run(msg: JsMsg, source: JobSource, runner: JobRunner): Promise<void> {
    const waitDeliveries = source === 'scheduled' ? SCHEDULED_WAIT_DELIVERIES : 0
    const running = new JobAttempt(msg, this.#deps.config.queue.ackWaitMs, this.#deps.nats.disconnects(), waitDeliveries)
    this.#running.add(running)
    this.#cancels.check(running)
    try {
      await runner.run(running)
    } finally {
      this.#running.delete(running)
    }
  }

  // One interval for every running job, instead of timers per job (see JobAttempt.tick).
  #sweep(): void {
    const now = Date.now()
    const disconnects = this.#deps.nats.disconnects()
    for (const running of this.#running) running.tick(now, disconnects)
  }

  /** Drains and stops; idempotent (every call gets the same promise). Does not close the NATS connection. */
  close(): Promise<void> {
    this.#closing ??= this.#drain()
    return this.#closing
  }

  async #drain(): Promise<void> {
    const { config, logger } = this.#deps
    const drainUntil = Date.now() + config.worker.drainMs
    this.#stopping = true
    logger.info({ inProgress: this.#running.size, drainMs: config.worker.drainMs }, 'worker draining')
    try {
      await this.#puller?.stop()
    } catch (error) {
      logger.warn({ err: error }, 'stopping the pulls failed')
    }
    const idle = this.#puller?.idle() ?? Promise.resolve()
    const drained = await Promise.race([idle.then(() => true), sleep(config.worker.drainMs, false, { ref: false })])
    if (!drained) {
      for (const running of this.#running) {
        running.abort.abort()
        if (running.giveBack()) {
          this.metrics.countOutcome(running.msg.headers?.get(JobHeader.type) ?? 'unknown', 'returned')
        }
      }
      logger.warn({ returned: this.#running.size }, 'drain timed out; jobs in progress handed back for redelivery')
    }
    clearInterval(this.#sweeper)
    this.#cancels.close()
    // Callbacks of the jobs that finished get what is left of the drain; those still held then are dropped.
    await this.#callbacks.close(Math.max(0, drainUntil - Date.now()))
    this.#publisher?.close()
    try {
      await this.#ops?.close()
    } catch (error) {
      logger.warn({ err: error }, 'closing the health port failed')
    }
    logger.info('worker stopped')
  }
}
