import { SluiceError } from '@sluice/core'

/**
 * What a scaler is asked to do: the bounds and targets of one QueueScaler (or of local mode's AUTOSCALE_*
 * settings), in the units the decision engine works in.
 */
export interface ScalingPolicy {
  /** Fewest replicas; 0 lets the target sleep while the queue is idle. */
  readonly minReplicas: number
  /** Most replicas; at least 1 and at least `minReplicas`. */
  readonly maxReplicas: number
  /** Backlog (pending + in flight) one replica should carry; replicas = ceil(backlog / this). At least 1. */
  readonly targetBacklogPerReplica: number
  /** From zero replicas, the backlog must exceed this before the first one starts. @default 0 */
  readonly activationBacklog: number
  /** Scale down only to the highest recommendation of this trailing window, in milliseconds. */
  readonly scaleDownStabilizationMs: number
  /** Most replicas one scale-down removes; `undefined` is no cap. */
  readonly maxScaleDownStep: number | undefined
}

/** A policy that cannot be applied; `field` names the offending setting. */
export class InvalidScalingPolicyError extends SluiceError {
  static readonly code = 'SLUICE_INVALID_SCALING_POLICY'
  /** The setting at fault, e.g. `maxReplicas`. */
  readonly field: string

  constructor(field: string, message: string) {
    super(InvalidScalingPolicyError.code, `${field} ${message}`)
    this.field = field
  }
}

/**
 * Throws naming the first bad field. The CRD's schema already rejects these; the check stays because local
 * mode and tests build policies by hand, and a policy with min > max would make every later bound a lie.
 */
export function validateScalingPolicy(policy: ScalingPolicy): ScalingPolicy {
  const wholeAtLeast = (field: keyof ScalingPolicy, value: number, min: number): void => {
    if (!Number.isSafeInteger(value) || value < min) throw new InvalidScalingPolicyError(field, `must be a whole number >= ${min}, got ${value}`)
  }
  wholeAtLeast('minReplicas', policy.minReplicas, 0)
  wholeAtLeast('maxReplicas', policy.maxReplicas, 1)
  wholeAtLeast('targetBacklogPerReplica', policy.targetBacklogPerReplica, 1)
  wholeAtLeast('activationBacklog', policy.activationBacklog, 0)
  wholeAtLeast('scaleDownStabilizationMs', policy.scaleDownStabilizationMs, 0)
  if (policy.maxScaleDownStep !== undefined) wholeAtLeast('maxScaleDownStep', policy.maxScaleDownStep, 1)
  if (policy.minReplicas > policy.maxReplicas) {
    throw new InvalidScalingPolicyError('minReplicas', `(${policy.minReplicas}) must not exceed maxReplicas (${policy.maxReplicas})`)
  }
  return policy
}
