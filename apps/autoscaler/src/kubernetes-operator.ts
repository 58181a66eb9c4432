import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { LeaderElector } from './controller/leader-election.ts'
import { QueueScalerController } from './controller/queue-scaler-controller.ts'
import type { AutoscalerMetrics } from './metrics/autoscaler-metrics.ts'

/** Options of {@link startOperator}. */
export interface OperatorOptions {
  readonly kubeConfig: KubeConfig
  /** Namespace of the QueueScalers and of the Lease. */
  readonly namespace: string
  /** This replica's name in the Lease and in Events. */
  readonly identity: string
  readonly leaseName: string
  /** Lease timing in ms; see {@link LeaderElector}. */
  readonly leaseDurationMs: number
  readonly renewDeadlineMs: number
  readonly retryPeriodMs: number
  /** QueueScalers reconciled at once. */
  readonly concurrency: number
  /** Longest wait for reconciles in progress when leadership ends, in ms. */
  readonly shutdownMs: number
  /** First retry delay of a failing QueueScaler, in ms (doubles per failure). @default 500 */
  readonly retryBaseDelayMs?: number
  /** NATS servers a QueueScaler's Secrets may be sent to (the autoscaler's NATS_URL). @default any */
  readonly credentialServers?: string
  readonly logger: Logger
  readonly metrics: AutoscalerMetrics
}

/** A running operator replica: a candidate for the Lease, reconciling while it leads. */
export interface Operator {
  isLeader(): boolean
  /** Ready once campaigning; followers are ready too (they are healthy standbys). */
  isReady(): boolean
  /** Stops reconciling, releases the Lease; idempotent and bounded. */
  close(): Promise<void>
}

/**
 * Runs the QueueScaler controller only while holding the Lease: each term gets a fresh controller (informer,
 * queue, NATS connections), so a replica that lost the Lease has nothing left running that could write.
 */
export function startOperator(options: OperatorOptions): Operator {
  let controller: QueueScalerController | undefined
  const elector: LeaderElector = new LeaderElector({
    kubeConfig: options.kubeConfig,
    namespace: options.namespace,
    leaseName: options.leaseName,
    identity: options.identity,
    leaseDurationMs: options.leaseDurationMs,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
    logger: options.logger,
    onStartedLeading: async () => {
      options.metrics.setLeader(true)
      controller = new QueueScalerController({
        kubeConfig: options.kubeConfig,
        namespace: options.namespace,
        identity: options.identity,
        logger: options.logger,
        metrics: options.metrics,
        isLeader: () => elector.isLeader(),
        concurrency: options.concurrency,
        ...(options.retryBaseDelayMs === undefined ? {} : { retryBaseDelayMs: options.retryBaseDelayMs }),
        ...(options.credentialServers === undefined ? {} : { credentialServers: options.credentialServers }),
      })
      await controller.start()
    },
    onStoppedLeading: async () => {
      options.metrics.setLeader(false)
      const stopping = controller
      controller = undefined
      await stopping?.stop(options.shutdownMs)
    },
  })
  options.metrics.setLeader(false)
  elector.start()
  return {
    isLeader: () => elector.isLeader(),
    isReady: () => true,
    close: () => elector.close(),
  }
}

/** The namespace to watch: the setting, else the pod's own (from its ServiceAccount mount), else `default`. */
export function operatorNamespace(configured: string | undefined): string {
  if (configured) return configured
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim()
  } catch {
    return 'default'
  }
}

/** A Lease identity unique per process: the pod name (the host name) plus a random suffix, as client-go does. */
export function operatorIdentity(configured: string | undefined): string {
  return configured ?? `${hostname()}_${randomUUID().slice(0, 8)}`
}
