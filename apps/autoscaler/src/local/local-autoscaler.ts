import type { Logger } from 'pino'
import { BacklogReadError, BacklogReadFailure, type BacklogSource } from '../backlog/backlog-source.ts'
import { ReplicaDecider } from '../decision/replica-decider.ts'
import type { ScalingPolicy } from '../decision/scaling-policy.ts'
import type { AutoscalerMetrics } from '../metrics/autoscaler-metrics.ts'
import type { LocalScaleTarget } from './worker-processes.ts'

/** Options of {@link startLocalAutoscaler}. */
export interface LocalAutoscalerOptions {
  readonly source: BacklogSource
  readonly target: LocalScaleTarget
  readonly policy: ScalingPolicy
  /** How often the backlog is read, in ms. */
  readonly pollIntervalMs: number
  readonly logger: Logger
  readonly metrics: AutoscalerMetrics
}

/** A running local autoscaler. */
export interface LocalAutoscaler {
  /** Whether the last read succeeded (readiness). */
  isReady(): boolean
  /** Stops polling and every worker. Idempotent; bounded by the target's drain bound. */
  close(): Promise<void>
}

/** Metric label of local mode's only scaler. */
export const LOCAL_SCALER = 'local'

/**
 * The same decision engine as the operator, driving worker processes: poll, decide, scale. A failed read
 * keeps the workers as they are (the rule the controller follows too). Starts `minReplicas` at once, since
 * the first worker is what creates the consumer whose backlog is read.
 */
export function startLocalAutoscaler(options: LocalAutoscalerOptions): LocalAutoscaler {
  const { source, target, policy, logger, metrics } = options
  const decider = new ReplicaDecider()
  let timer: NodeJS.Timeout | undefined
  let closing: Promise<void> | undefined
  let lastFailure: string | undefined
  let ready = false

  const poll = async (): Promise<void> => {
    try {
      const reading = await source.read()
      const current = target.replicas()
      const decision = decider.decide(Date.now(), reading.backlog, current, policy)
      if (closing) return
      if (decision.desired !== current) {
        logger.info(
          { from: current, to: decision.desired, backlog: reading.backlog, limitedBy: decision.limitedBy },
          decision.desired > current ? 'scaling up' : 'scaling down',
        )
        target.scale(decision.desired)
      }
      metrics.observe(LOCAL_SCALER, { backlog: reading.backlog, desired: decision.desired, current: target.replicas() })
      if (lastFailure) logger.info('backlog readable again')
      lastFailure = undefined
      ready = true
    } catch (error) {
      const reason = error instanceof BacklogReadError ? error.reason : 'InternalError'
      metrics.reconcileError(LOCAL_SCALER, reason)
      // Log a reason once, not every poll. A missing consumer is expected on a first start, until the first
      // worker creates it: one plain line, not a warning with a stack.
      if (lastFailure !== reason) {
        if (reason === BacklogReadFailure.ConsumerNotFound) logger.info({ reason }, `${(error as Error).message}; waiting for the first worker to create it`)
        else logger.warn({ reason, err: error }, 'cannot read the backlog; keeping the workers as they are')
      }
      lastFailure = reason
      ready = false
    }
  }
  const loop = async (): Promise<void> => {
    await poll()
    if (!closing) {
      timer = setTimeout(() => void loop(), options.pollIntervalMs)
    }
  }

  metrics.setLeader(true)
  target.scale(policy.minReplicas)
  void loop()
  return {
    isReady: () => ready,
    close() {
      closing ??= (async () => {
        clearTimeout(timer)
        await target.close()
      })()
      return closing
    },
  }
}
