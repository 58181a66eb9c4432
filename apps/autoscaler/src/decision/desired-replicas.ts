import type { ScalingPolicy } from './scaling-policy.ts'

/**
 * Why the decision is not simply the recommendation, for the `ScalingLimited` condition:
 * `MaxReplicas`/`MinReplicas`: the backlog asks for more/fewer than the bounds allow;
 * `ScaleDownStabilized`: a higher recommendation inside the window holds replicas up;
 * `ScaleDownStepLimited`: the per-scale-down cap holds replicas up.
 */
export type ScalingLimit = 'MaxReplicas' | 'MinReplicas' | 'ScaleDownStabilized' | 'ScaleDownStepLimited'

/** The outcome of one decision. */
export interface ScalingDecision {
  /** Replicas to set now. */
  readonly desired: number
  /** What the backlog alone asks for (within bounds); record it in the window. */
  readonly recommendation: number
  /** Whether the backlog is above the activation threshold (or the target is already awake and busy). */
  readonly active: boolean
  /** Set when something other than the backlog decided. */
  readonly limitedBy: ScalingLimit | undefined
}

/**
 * What the backlog alone asks for, within [min, max]. Waking from zero needs a backlog above
 * `activationBacklog`; once awake, the target goes back to `minReplicas` only when the backlog is empty,
 * so no job is stranded in a queue nobody consumes ("zero only from idle").
 */
export function recommendReplicas(
  backlog: number,
  currentReplicas: number,
  policy: ScalingPolicy,
): { replicas: number; active: boolean; limitedBy: ScalingLimit | undefined } {
  const asleep = currentReplicas === 0
  const active = asleep ? backlog > policy.activationBacklog : backlog > 0
  if (!active) return { replicas: policy.minReplicas, active, limitedBy: undefined }
  const wanted = Math.ceil(backlog / policy.targetBacklogPerReplica)
  const floor = Math.max(policy.minReplicas, 1)
  if (wanted > policy.maxReplicas) return { replicas: policy.maxReplicas, active, limitedBy: 'MaxReplicas' }
  if (wanted < floor) return { replicas: floor, active, limitedBy: policy.minReplicas > wanted ? 'MinReplicas' : undefined }
  return { replicas: wanted, active, limitedBy: undefined }
}

/** Inputs of {@link decideReplicas}. */
export interface DecisionInput {
  /** Jobs waiting plus jobs handed out and not yet acknowledged (`num_pending + num_ack_pending`). */
  readonly backlog: number
  /** Replicas the target has now. */
  readonly currentReplicas: number
  readonly policy: ScalingPolicy
  /**
   * Highest recommendation within the stabilization window, this decision's own included (record first,
   * then ask the window). Undefined means "no history": the recommendation alone counts.
   */
  readonly windowHighest: number | undefined
}

/**
 * desired = clamp(ceil(backlog / target), min, max), with three rules on top:
 * - scale-up goes to the recommendation in one step (the HPA's default climbs in stages; a queue surge
 *   should not wait for them);
 * - scale-down goes no lower than the window's highest recommendation, and removes at most
 *   `maxScaleDownStep` replicas at once;
 * - the result always lies in [min, max], even if someone scaled the target outside them by hand.
 */
export function decideReplicas(input: DecisionInput): ScalingDecision {
  const { backlog, currentReplicas: current, policy } = input
  const recommended = recommendReplicas(backlog, current, policy)
  const recommendation = recommended.replicas
  const within = (replicas: number): number => Math.min(policy.maxReplicas, Math.max(policy.minReplicas, replicas))
  const decision = (desired: number, limitedBy: ScalingLimit | undefined): ScalingDecision => ({
    desired: within(desired),
    recommendation,
    active: recommended.active,
    limitedBy,
  })

  if (recommendation >= current) return decision(recommendation, recommended.limitedBy)
  const highest = Math.max(recommendation, input.windowHighest ?? recommendation)
  if (highest >= current) return decision(current, current > recommendation ? 'ScaleDownStabilized' : recommended.limitedBy)
  const step = policy.maxScaleDownStep
  if (step !== undefined && current - highest > step) return decision(current - step, 'ScaleDownStepLimited')
  return decision(highest, highest > recommendation ? 'ScaleDownStabilized' : recommended.limitedBy)
}
