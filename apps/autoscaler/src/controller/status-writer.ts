import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import { SluiceError } from '@sluice/core'
import type { Logger } from 'pino'
import { BacklogReadFailure, type BacklogReading } from '../backlog/backlog-source.ts'
import type { AutoscalerMetrics } from '../metrics/autoscaler-metrics.ts'
import { conditionOf, setConditions, statusChanged, type ConditionUpdate } from './conditions.ts'
import type { EventReason, EventRecorder } from './event-recorder.ts'
import {
  FIELD_MANAGER,
  keyOf,
  QUEUE_SCALER_GROUP,
  QUEUE_SCALER_PLURAL,
  QUEUE_SCALER_VERSION,
  type QueueScaler,
  type QueueScalerStatus,
} from './queue-scaler.ts'

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
// Rewrite an otherwise unchanged status this often, so lastReadTime in `kubectl get -o yaml` stays roughly fresh.
const READ_TIME_REFRESH_MS = 30_000

/** A reconcile that failed for a known reason; the work queue retries it with backoff. */
export class ReconcileError extends SluiceError {
  static readonly code = 'SLUICE_RECONCILE_FAILED'
  /** The `Ready` condition's reason, e.g. `ConsumerNotFound`. */
  readonly reason: string

  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(ReconcileError.code, message, options)
    this.reason = reason
  }
}

/** A successful reconcile's outcome, for the status. */
export interface ReconcileOutcome {
  readonly reading: BacklogReading
  readonly desired: number
  readonly current: number
  readonly readAt: Date
  /** Set when this reconcile changed the replicas. */
  readonly scaledAt: Date | undefined
  readonly conditions: readonly ConditionUpdate[]
}

/**
 * Writes QueueScaler status through the status subresource (merge patch, field manager), only when it
 * says something new, and turns failures into a `Ready=False` condition, a Warning Event (once per
 * distinct reason, not per retry) and a metric.
 */
export class StatusWriter {
  readonly #custom: CustomObjectsApi
  readonly #events: EventRecorder
  readonly #metrics: AutoscalerMetrics
  readonly #logger: Logger
  // What this process last wrote: the informer's copy may lag behind our own write by a moment.
  readonly #written = new Map<string, { uid: string | undefined; status: QueueScalerStatus }>()

  constructor(kubeConfig: KubeConfig, events: EventRecorder, metrics: AutoscalerMetrics, logger: Logger) {
    this.#custom = kubeConfig.makeApiClient(CustomObjectsApi)
    this.#events = events
    this.#metrics = metrics
    this.#logger = logger
  }

  /** Records a successful reconcile. */
  async succeed(scaler: QueueScaler, outcome: ReconcileOutcome): Promise<void> {
    const previous = this.#previous(scaler)
    const now = outcome.readAt
    const next: QueueScalerStatus = {
      ...previous,
      observedGeneration: scaler.metadata?.generation,
      backlog: outcome.reading.backlog,
      pending: outcome.reading.num_pending,
      inFlight: outcome.reading.num_ack_pending,
      desiredReplicas: outcome.desired,
      currentReplicas: outcome.current,
      lastReadTime: now.toISOString(),
      ...(outcome.scaledAt ? { lastScaleTime: outcome.scaledAt.toISOString() } : {}),
      conditions: setConditions(previous?.conditions, outcome.conditions, now, scaler.metadata?.generation),
    }
    if (statusChanged(previous, next, now, READ_TIME_REFRESH_MS)) await this.#patch(scaler, next)
  }

  /**
   * Records a failure: `Ready=False` with `reason`, replicas untouched. Returns the error for the caller
   * to throw, so the work queue backs off.
   */
  async fail(scaler: QueueScaler, event: EventReason, reason: string, message: string, cause?: unknown): Promise<ReconcileError> {
    const key = keyOf(scaler)
    const previous = this.#previous(scaler)
    const ready = conditionOf(previous, 'Ready')
    const newReason = ready?.status !== 'False' || ready.reason !== reason
    this.#metrics.reconcileError(key, reason)
    // Logged once per reason, as the Event is: the condition and the metric show that it persists. Before any
    // read succeeded (a fresh install), a missing consumer is expected until the first worker creates it: one
    // plain line, not a warning with a stack.
    if (newReason && reason === BacklogReadFailure.ConsumerNotFound && previous?.lastReadTime === undefined) {
      this.#logger.info({ scaler: key, reason }, `${message} (expected until the first worker creates the consumer)`)
    } else if (newReason) {
      this.#logger.warn({ scaler: key, reason, err: cause }, message)
    }
    if (newReason) await this.#events.record(scaler, 'Warning', event, message)
    const now = new Date()
    const next: QueueScalerStatus = {
      ...previous,
      observedGeneration: scaler.metadata?.generation,
      conditions: setConditions(previous?.conditions, [{ type: 'Ready', status: 'False', reason, message }], now, scaler.metadata?.generation),
    }
    try {
      if (statusChanged(previous, next, now, READ_TIME_REFRESH_MS)) await this.#patch(scaler, next)
    } catch (error) {
      this.#logger.warn({ scaler: key, err: error }, 'could not write the failure to status')
    }
    return new ReconcileError(reason, message, { cause })
  }

  /** Forgets a deleted QueueScaler. */
  forget(key: string): void {
    this.#written.delete(key)
  }

  #previous(scaler: QueueScaler): QueueScalerStatus | undefined {
    const written = this.#written.get(keyOf(scaler))
    // Our own copy is newer, unless the object was deleted and created again under the same name.
    return written && written.uid === scaler.metadata?.uid ? written.status : scaler.status
  }

  async #patch(scaler: QueueScaler, status: QueueScalerStatus): Promise<void> {
    const { namespace = '', name = '' } = scaler.metadata ?? {}
    try {
      await this.#custom.patchNamespacedCustomObjectStatus(
        {
          group: QUEUE_SCALER_GROUP,
          version: QUEUE_SCALER_VERSION,
          plural: QUEUE_SCALER_PLURAL,
          namespace,
          name,
          body: { status },
          fieldManager: FIELD_MANAGER,
        },
        mergePatch,
      )
      this.#written.set(keyOf(scaler), { uid: scaler.metadata?.uid, status })
    } catch (error) {
      // Deleted while we worked: nothing left to report on.
      if ((error as { code?: number }).code === 404) return
      throw error
    }
  }
}
