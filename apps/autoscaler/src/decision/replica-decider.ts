import { decideReplicas, recommendReplicas, type ScalingDecision } from './desired-replicas.ts'
import { RecommendationWindow } from './recommendation-window.ts'
import type { ScalingPolicy } from './scaling-policy.ts'

/**
 * The decision engine with its memory: one per scaled target. Records each recommendation in the
 * stabilization window, then decides. Time is an argument, so tests drive it without clocks.
 */
export class ReplicaDecider {
  readonly #window = new RecommendationWindow()

  /** Decides the replicas for `backlog` at time `now` (ms), given the target's current replicas. */
  decide(now: number, backlog: number, currentReplicas: number, policy: ScalingPolicy): ScalingDecision {
    const { replicas } = recommendReplicas(backlog, currentReplicas, policy)
    this.#window.record(now, replicas, policy.scaleDownStabilizationMs)
    const windowHighest = this.#window.highest(now, policy.scaleDownStabilizationMs)
    return decideReplicas({ backlog, currentReplicas, policy, windowHighest })
  }

  /**
   * Notes replicas that were set by someone else (pause, paused-replicas, a manual scale), so leaving a
   * pause does not immediately drop below what was running inside the window.
   */
  observe(now: number, replicas: number, policy: ScalingPolicy): void {
    this.#window.record(now, replicas, policy.scaleDownStabilizationMs)
  }
}
