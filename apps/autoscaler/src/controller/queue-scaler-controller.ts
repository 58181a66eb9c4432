import { CustomObjectsApi, makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type ObjectCache } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { AutoscalerMetrics } from '../metrics/autoscaler-metrics.ts'
import { DeploymentScale } from './deployment-scale.ts'
import { EventRecorder } from './event-recorder.ts'
import { NatsConnections } from './nats-connections.ts'
import { NatsCredentialsReader } from './nats-credentials.ts'
import { keyOf, QUEUE_SCALER_GROUP, QUEUE_SCALER_PLURAL, QUEUE_SCALER_VERSION, type QueueScaler } from './queue-scaler.ts'
import { ReconcileError, Reconciler } from './reconciler.ts'
import { StatusWriter } from './status-writer.ts'
import { WorkQueue } from './work-queue.ts'

/** Options of {@link QueueScalerController}. */
export interface QueueScalerControllerOptions {
  readonly kubeConfig: KubeConfig
  /** Namespace whose QueueScalers are watched (a namespaced Role grants no more). */
  readonly namespace: string
  /** This replica's name, for Events. */
  readonly identity: string
  readonly logger: Logger
  readonly metrics: AutoscalerMetrics
  /** Writes happen only while this is true. @default always */
  readonly isLeader?: () => boolean
  /** QueueScalers reconciled at once. @default 4 */
  readonly concurrency?: number
  /** First and longest retry delay of a failing QueueScaler, in milliseconds. @default 500 and 60000 */
  readonly retryBaseDelayMs?: number
  readonly retryMaxDelayMs?: number
  /** NATS servers a QueueScaler's Secrets may be sent to (the autoscaler's NATS_URL). @default any */
  readonly credentialServers?: string
}

/**
 * sample-controller's shape: an informer on QueueScalers whose events only enqueue keys, a rate-limited
 * work queue, and workers running `reconcile(key)`. Each success requeues the key after its poll interval;
 * each failure after an exponential backoff.
 */
export class QueueScalerController {
  readonly #options: QueueScalerControllerOptions
  readonly #queue: WorkQueue
  readonly #informer: Informer<QueueScaler> & ObjectCache<QueueScaler>
  readonly #connections: NatsConnections
  readonly #reconciler: Reconciler
  readonly #workers: Promise<void>[] = []
  // generation + annotations per key, to tell spec and pause changes from our own status writes.
  readonly #lastSeen = new Map<string, string>()
  #restartTimer: NodeJS.Timeout | undefined
  #informerRestarts = 0
  #stopping: Promise<void> | undefined

  constructor(options: QueueScalerControllerOptions) {
    this.#options = options
    const { kubeConfig, namespace, logger, metrics } = options
    this.#queue = new WorkQueue({ baseDelayMs: options.retryBaseDelayMs, maxDelayMs: options.retryMaxDelayMs })
    const custom = kubeConfig.makeApiClient(CustomObjectsApi)
    const path = `/apis/${QUEUE_SCALER_GROUP}/${QUEUE_SCALER_VERSION}/namespaces/${namespace}/${QUEUE_SCALER_PLURAL}`
    this.#informer = makeInformer<QueueScaler>(
      kubeConfig,
      path,
      async () =>
        (await custom.listNamespacedCustomObject({
          group: QUEUE_SCALER_GROUP,
          version: QUEUE_SCALER_VERSION,
          namespace,
          plural: QUEUE_SCALER_PLURAL,
        })) as KubernetesListObject<QueueScaler>,
    )
    this.#connections = new NatsConnections({ logger })
    const events = new EventRecorder(kubeConfig, options.identity, logger)
    this.#reconciler = new Reconciler({
      logger,
      metrics,
      getScaler: (ns, name) => this.#informer.get(name, ns),
      targets: new DeploymentScale(kubeConfig),
      events,
      status: new StatusWriter(kubeConfig, events, metrics, logger),
      connections: this.#connections,
      credentials: new NatsCredentialsReader(kubeConfig),
      ...(options.credentialServers === undefined ? {} : { credentialServers: options.credentialServers }),
      isLeader: options.isLeader ?? (() => true),
    })
  }

  /** Starts watching and reconciling; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    const enqueue = (scaler: QueueScaler): void => this.#queue.add(keyOf(scaler))
    this.#informer.on('add', enqueue)
    this.#informer.on('delete', (scaler) => {
      this.#lastSeen.delete(keyOf(scaler))
      enqueue(scaler)
    })
    this.#informer.on('update', (scaler) => {
      // Our own status writes come back as updates; reacting to them would reconcile in a loop. Spec
      // changes bump the generation; pause annotations do not, so they are compared too.
      const seen = this.#lastSeen.get(keyOf(scaler))
      const fingerprint = fingerprintOf(scaler)
      this.#lastSeen.set(keyOf(scaler), fingerprint)
      if (seen !== fingerprint) enqueue(scaler)
    })
    this.#informer.on('error', (error: unknown) => this.#restartInformer(error))
    this.#informer.on('connect', () => {
      this.#informerRestarts = 0
    })
    await this.#informer.start()
    for (const scaler of this.#informer.list()) this.#lastSeen.set(keyOf(scaler), fingerprintOf(scaler))
    for (let i = 0; i < (this.#options.concurrency ?? 4); i++) this.#workers.push(this.#work())
  }

  /**
   * Stops the informer and the queue, waits for reconciles in progress (at most `timeoutMs`), and closes
   * the NATS connections. Idempotent.
   */
  stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping ??= (async () => {
      clearTimeout(this.#restartTimer)
      try {
        await this.#informer.stop()
      } catch (error) {
        this.#options.logger.warn({ err: error }, 'stopping the informer failed')
      }
      this.#queue.shutDown()
      let timer: NodeJS.Timeout | undefined
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs)
        timer.unref()
      })
      await Promise.race([Promise.all(this.#workers), bound])
      clearTimeout(timer)
      try {
        await this.#connections.close()
      } catch (error) {
        this.#options.logger.warn({ err: error }, 'closing NATS connections failed')
      }
    })()
    return this.#stopping
  }

  #restartInformer(error: unknown): void {
    if (this.#stopping) return
    // The informer stops on a failed list or watch; start it again with backoff, as client-go's reflector does.
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.#informerRestarts++, 10))
    this.#options.logger.warn({ err: error, retryInMs: delay }, 'QueueScaler watch failed; restarting')
    this.#restartTimer = setTimeout(() => {
      if (!this.#stopping) void this.#informer.start().catch((startError: unknown) => this.#restartInformer(startError))
    }, delay)
    this.#restartTimer.unref()
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.#queue.get()
      if (key === undefined) return
      try {
        const { requeueAfterMs } = await this.#reconciler.reconcile(key)
        this.#queue.forget(key)
        if (requeueAfterMs !== undefined) this.#queue.addAfter(key, requeueAfterMs)
        else this.#queue.cancel(key)
      } catch (error) {
        if (!(error instanceof ReconcileError)) {
          this.#options.metrics.reconcileError(key, 'InternalError')
          this.#options.logger.error({ err: error, scaler: key }, 'reconcile failed')
        }
        const delay = this.#queue.addRateLimited(key)
        this.#options.logger.debug({ scaler: key, retryInMs: delay }, 'reconcile will be retried')
      } finally {
        this.#queue.done(key)
      }
    }
  }
}

function fingerprintOf(scaler: QueueScaler): string {
  return `${scaler.metadata?.generation}|${JSON.stringify(scaler.metadata?.annotations ?? {})}`
}
