import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decideReplicas, recommendReplicas } from '../../apps/autoscaler/src/decision/desired-replicas.ts'
import { ReplicaDecider } from '../../apps/autoscaler/src/decision/replica-decider.ts'
import { validateScalingPolicy, type ScalingPolicy } from '../../apps/autoscaler/src/decision/scaling-policy.ts'

// Policies the CRD schema admits: min <= max, max >= 1, target >= 1.
const policyArb: fc.Arbitrary<ScalingPolicy> = fc
  .record({
    minReplicas: fc.integer({ min: 0, max: 10 }),
    extra: fc.integer({ min: 0, max: 40 }),
    targetBacklogPerReplica: fc.integer({ min: 1, max: 100 }),
    activationBacklog: fc.integer({ min: 0, max: 50 }),
    scaleDownStabilizationMs: fc.integer({ min: 0, max: 120_000 }),
    maxScaleDownStep: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
  })
  .map(({ extra, ...rest }) => ({ ...rest, maxReplicas: Math.max(1, rest.minReplicas + extra) }))
const backlogArb = fc.integer({ min: 0, max: 10_000 })
const currentArb = fc.integer({ min: 0, max: 60 })
// A run of polls: time since the previous poll and the backlog read.
const pollsArb = fc.array(fc.record({ elapsedMs: fc.integer({ min: 0, max: 30_000 }), backlog: backlogArb }), { minLength: 1, maxLength: 40 })

/** Drives a decider through `polls` the way the controller does: the target follows each decision. */
function run(policy: ScalingPolicy, start: number, polls: { elapsedMs: number; backlog: number }[]) {
  const decider = new ReplicaDecider()
  const steps = []
  let now = 1_000_000
  let current = start
  for (const poll of polls) {
    now += poll.elapsedMs
    const decision = decider.decide(now, poll.backlog, current, policy)
    steps.push({ now, before: current, backlog: poll.backlog, ...decision })
    current = decision.desired
  }
  return steps
}

describe('autoscaler decision engine', () => {
  test('decision engine - desired replicas always lie within [min, max]', () => {
    fc.assert(
      fc.property(policyArb, currentArb, pollsArb, (policy, start, polls) => {
        for (const step of run(policy, start, polls)) {
          expect(step.desired).toBeGreaterThanOrEqual(policy.minReplicas)
          expect(step.desired).toBeLessThanOrEqual(policy.maxReplicas)
        }
      }),
    )
  })

  test('decision engine - desired replicas are monotone in backlog', () => {
    const windowArb = fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined })
    fc.assert(
      fc.property(policyArb, currentArb, windowArb, backlogArb, backlogArb, (policy, current, windowHighest, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a]
        const atLow = decideReplicas({ backlog: low, currentReplicas: current, policy, windowHighest })
        const atHigh = decideReplicas({ backlog: high, currentReplicas: current, policy, windowHighest })
        expect(atLow.desired).toBeLessThanOrEqual(atHigh.desired)
      }),
    )
  })

  test('decision engine - a scale-down never goes below the highest recommendation in the window', () => {
    fc.assert(
      fc.property(policyArb, currentArb, pollsArb, (policy, start, polls) => {
        const steps = run(policy, start, polls)
        steps.forEach((step, index) => {
          if (step.desired >= step.before) return
          // Recomputed independently of the window class: every recommendation made within the window.
          const inWindow = steps.slice(0, index + 1).filter((earlier) => earlier.now >= step.now - policy.scaleDownStabilizationMs)
          const highest = Math.max(...inWindow.map((earlier) => earlier.recommendation))
          expect(step.desired).toBeGreaterThanOrEqual(Math.min(highest, policy.maxReplicas))
        })
      }),
    )
  })

  test('decision engine - a scale-down removes at most the configured step (target within bounds)', () => {
    fc.assert(
      fc.property(policyArb, pollsArb, fc.nat(), (policy, polls, seed) => {
        const start = policy.minReplicas + (seed % (policy.maxReplicas - policy.minReplicas + 1))
        for (const step of run(policy, start, polls)) {
          if (policy.maxScaleDownStep !== undefined) expect(step.before - step.desired).toBeLessThanOrEqual(policy.maxScaleDownStep)
        }
      }),
    )
  })

  test('decision engine - zero replicas only from idle: empty queue, or asleep and at most the activation backlog', () => {
    fc.assert(
      fc.property(policyArb, currentArb, pollsArb, (policy, start, polls) => {
        for (const step of run(policy, start, polls)) {
          if (step.desired !== 0) continue
          const idle = step.backlog === 0 || (step.before === 0 && step.backlog <= policy.activationBacklog)
          expect(idle).toBe(true)
        }
      }),
    )
  })

  test('decision engine - scale-up reaches the recommendation in one step, 0 to N included', () => {
    fc.assert(
      fc.property(
        policyArb,
        currentArb,
        backlogArb,
        fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
        (policy, current, backlog, windowHighest) => {
          const decision = decideReplicas({ backlog, currentReplicas: current, policy, windowHighest })
          const { replicas: recommendation, active } = recommendReplicas(backlog, current, policy)
          if (recommendation > current) expect(decision.desired).toBe(recommendation)
          if (active) {
            const wanted = Math.min(policy.maxReplicas, Math.max(policy.minReplicas, 1, Math.ceil(backlog / policy.targetBacklogPerReplica)))
            // However many replicas are missing, one decision adds them all.
            if (current <= wanted) expect(decision.desired).toBe(wanted)
          }
        },
      ),
    )
  })

  // Table of the cases the properties do not name, one comment each.
  const policy = validateScalingPolicy({
    minReplicas: 0,
    maxReplicas: 10,
    targetBacklogPerReplica: 10,
    activationBacklog: 5,
    scaleDownStabilizationMs: 60_000,
    maxScaleDownStep: 2,
  })
  test.each([
    // Asleep, backlog at the activation threshold: stay asleep.
    { backlog: 5, current: 0, window: undefined, desired: 0, limitedBy: undefined },
    // Asleep, one job over the threshold: wake with one replica.
    { backlog: 6, current: 0, window: undefined, desired: 1, limitedBy: undefined },
    // Surge from zero: straight to the maximum in one step, reported as limited.
    { backlog: 500, current: 0, window: undefined, desired: 10, limitedBy: 'MaxReplicas' },
    // Awake with a backlog under the activation threshold: keep one, so the last jobs get done.
    { backlog: 3, current: 4, window: 1, desired: 2, limitedBy: 'ScaleDownStepLimited' },
    // Window remembers 8: stay at 8 although the backlog asks for 3.
    { backlog: 30, current: 8, window: 8, desired: 8, limitedBy: 'ScaleDownStabilized' },
    // Window's highest is 6, current 7: go to 6 (within the step).
    { backlog: 30, current: 7, window: 6, desired: 6, limitedBy: 'ScaleDownStabilized' },
    // Scaled by hand above the maximum: back within bounds at once.
    { backlog: 0, current: 30, window: 0, desired: 10, limitedBy: 'ScaleDownStepLimited' },
  ])('decision engine - backlog $backlog, current $current, window $window → $desired', ({ backlog, current, window, desired, limitedBy }) => {
    const decision = decideReplicas({ backlog, currentReplicas: current, policy, windowHighest: window })
    expect(decision.desired).toBe(desired)
    expect(decision.limitedBy).toBe(limitedBy)
  })

  test('decision engine - an invalid policy is rejected naming the field', () => {
    expect(() => validateScalingPolicy({ ...policy, minReplicas: 11 })).toThrow(/minReplicas/)
    expect(() => validateScalingPolicy({ ...policy, targetBacklogPerReplica: 0 })).toThrow(/targetBacklogPerReplica/)
  })
})
