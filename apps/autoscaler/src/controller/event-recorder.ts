import { EventsV1Api, V1MicroTime, type KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { QUEUE_SCALER_GROUP, QUEUE_SCALER_KIND, QUEUE_SCALER_VERSION, type QueueScaler } from './queue-scaler.ts'

/** Event reasons: stable names that alerts and `kubectl get events --field-selector reason=...` rely on. */
export const EventReason = {
  /** Replicas raised to follow the backlog. */
  ScaledUp: 'ScaledUp',
  /** Replicas lowered after the stabilization window. */
  ScaledDown: 'ScaledDown',
  /** `sluice.dev/paused-replicas` set the replicas. */
  PausedReplicasSet: 'PausedReplicasSet',
  /** The scale subresource refused the write. */
  FailedRescale: 'FailedRescale',
  /** The backlog could not be read; replicas were kept. */
  FailedGetBacklog: 'FailedGetBacklog',
  /** The scale target does not exist. */
  FailedGetScaleTarget: 'FailedGetScaleTarget',
  /** The spec cannot be applied (e.g. minReplicas > maxReplicas on an old CRD). */
  InvalidSpec: 'InvalidSpec',
} as const
/** One of {@link EventReason}. */
export type EventReason = (typeof EventReason)[keyof typeof EventReason]

/** Who reports, as shown by `kubectl describe`. */
export const REPORTING_CONTROLLER = 'sluice.dev/autoscaler'

/**
 * Writes events.k8s.io/v1 Events about QueueScalers. Failures are logged, never thrown: an Event is a
 * courtesy to the operator and must not fail or retry a reconcile.
 */
export class EventRecorder {
  readonly #events: EventsV1Api
  readonly #instance: string
  readonly #logger: Logger

  constructor(kubeConfig: KubeConfig, instance: string, logger: Logger) {
    this.#events = kubeConfig.makeApiClient(EventsV1Api)
    this.#instance = instance
    this.#logger = logger
  }

  /** Records `reason` with a human `note` on `scaler`. */
  async record(scaler: QueueScaler, type: 'Normal' | 'Warning', reason: EventReason, note: string): Promise<void> {
    const namespace = scaler.metadata?.namespace ?? 'default'
    try {
      await this.#events.createNamespacedEvent({
        namespace,
        body: {
          // client-go's naming (<object>.<hex time>); generateName would be validated with its trailing dot.
          metadata: { name: `${scaler.metadata?.name ?? 'queuescaler'}.${(Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}` },
          eventTime: new V1MicroTime(),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.#instance.slice(0, 128),
          action: 'Scale',
          type,
          reason,
          note: note.slice(0, 1024),
          regarding: {
            apiVersion: `${QUEUE_SCALER_GROUP}/${QUEUE_SCALER_VERSION}`,
            kind: QUEUE_SCALER_KIND,
            namespace,
            name: scaler.metadata?.name ?? '',
            uid: scaler.metadata?.uid ?? '',
            resourceVersion: scaler.metadata?.resourceVersion ?? '',
          },
        },
      })
    } catch (error) {
      this.#logger.warn({ err: error, reason }, 'could not record event')
    }
  }
}
