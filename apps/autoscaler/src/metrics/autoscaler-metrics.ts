import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * The autoscaler's Prometheus metrics, on a registry of its own. Every per-scaler series carries
 * `scaler="<namespace>/<name>"` (`local` in local mode).
 */
export interface AutoscalerMetrics {
  readonly registry: Registry
  /** Records a successful read and the decision made from it. */
  observe(scaler: string, values: { backlog: number; desired: number; current: number }): void
  /** Counts a failed reconcile by reason (a condition reason such as `ConsumerNotFound`). */
  reconcileError(scaler: string, reason: string): void
  /** Sets whether this replica holds the leader Lease. */
  setLeader(leading: boolean): void
  /** Drops the series of a deleted scaler. */
  forget(scaler: string): void
}

/** Creates the metrics; `now` is injectable so tests need no clock. */
export function createAutoscalerMetrics(now: () => number = Date.now): AutoscalerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const lastReadAt = new Map<string, number>()
  const labelNames = ['scaler'] as const
  const backlog = new Gauge({
    name: 'sluice_autoscaler_backlog',
    help: 'Backlog (num_pending + num_ack_pending) at the last successful read.',
    labelNames,
    registers: [registry],
  })
  const desired = new Gauge({
    name: 'sluice_autoscaler_desired_replicas',
    help: 'Replicas the decision engine asked for at the last reconcile.',
    labelNames,
    registers: [registry],
  })
  const current = new Gauge({
    name: 'sluice_autoscaler_current_replicas',
    help: 'Replicas of the scale target after the last reconcile.',
    labelNames,
    registers: [registry],
  })
  const errors = new Counter({
    name: 'sluice_autoscaler_reconcile_errors_total',
    help: 'Reconciles that failed, by reason; replicas were left as they were.',
    labelNames: ['scaler', 'reason'],
    registers: [registry],
  })
  const leader = new Gauge({
    name: 'sluice_autoscaler_leader',
    help: '1 while this replica holds the leader Lease (always 1 in local mode).',
    registers: [registry],
  })
  new Gauge({
    name: 'sluice_autoscaler_last_read_age_seconds',
    help: 'Seconds since the backlog was last read successfully; alert when it grows past a few poll intervals.',
    labelNames,
    registers: [registry],
    collect() {
      this.reset()
      for (const [scaler, at] of lastReadAt) this.set({ scaler }, Math.max(0, (now() - at) / 1000))
    },
  })
  return {
    registry,
    observe(scaler, values) {
      lastReadAt.set(scaler, now())
      backlog.set({ scaler }, values.backlog)
      desired.set({ scaler }, values.desired)
      current.set({ scaler }, values.current)
    },
    reconcileError(scaler, reason) {
      errors.inc({ scaler, reason })
    },
    setLeader(leading) {
      leader.set(leading ? 1 : 0)
    },
    forget(scaler) {
      lastReadAt.delete(scaler)
      for (const gauge of [backlog, desired, current]) gauge.remove({ scaler })
    },
  }
}
