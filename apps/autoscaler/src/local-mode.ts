import type { AutoscalerConfig, NatsHandle } from '@sluice/core'
import type { Logger } from 'pino'
import { jetStreamBacklogSource } from './backlog/jetstream-backlog-source.ts'
import { validateScalingPolicy } from './decision/scaling-policy.ts'
import { startLocalAutoscaler, type LocalAutoscaler } from './local/local-autoscaler.ts'
import { WorkerProcesses } from './local/worker-processes.ts'
import type { AutoscalerMetrics } from './metrics/autoscaler-metrics.ts'

/**
 * Local mode from the configuration: the AUTOSCALE_* policy, worker processes as the target, the queue's
 * stream and consumer as the source. Workers inherit this process's environment, so they share its queue
 * settings and NATS URL.
 */
export function startLocalMode(config: AutoscalerConfig, nats: NatsHandle, logger: Logger, metrics: AutoscalerMetrics): LocalAutoscaler {
  const settings = config.autoscaler
  const policy = validateScalingPolicy({
    minReplicas: settings.minReplicas,
    maxReplicas: settings.maxReplicas,
    targetBacklogPerReplica: settings.targetBacklog,
    activationBacklog: settings.activationBacklog,
    scaleDownStabilizationMs: settings.scaleDownStabilizationSeconds * 1000,
    maxScaleDownStep: settings.maxScaleDownStep === 0 ? undefined : settings.maxScaleDownStep,
  })
  logger.info({ policy, pollIntervalMs: settings.pollIntervalMs, stream: config.queue.stream, consumer: config.queue.consumer }, 'local autoscaler starting')
  return startLocalAutoscaler({
    source: jetStreamBacklogSource(nats.nc, { stream: config.queue.stream, consumer: config.queue.consumer }),
    target: new WorkerProcesses({ logger, env: process.env, firstPort: settings.firstWorkerPort, closeTimeoutMs: settings.shutdownMs }),
    policy,
    pollIntervalMs: settings.pollIntervalMs,
    logger,
    metrics,
  })
}
