import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** How an attempt ended; the `outcome` label of `sluice_worker_jobs_total`. */
export type JobOutcome = 'succeeded' | 'retried' | 'dead' | 'returned'

/** The worker's Prometheus metrics, on a registry of its own. */
export interface WorkerMetrics {
  readonly registry: Registry
  readonly jobs: Counter<'type' | 'outcome'>
  readonly duration: Histogram<'type'>
}

/** Creates the metrics; `inProgress` is read at scrape time. */
export function createWorkerMetrics(inProgress: () => number): WorkerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  new Gauge({
    name: 'sluice_worker_jobs_in_progress',
    help: 'Jobs running in this worker now.',
    registers: [registry],
    collect() {
      this.set(inProgress())
    },
  })
  return {
    registry,
    jobs: new Counter({
      name: 'sluice_worker_jobs_total',
      help: 'Finished attempts by outcome: succeeded, retried (failed, will retry), dead (dead-lettered), returned (handed back on shutdown).',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'sluice_worker_job_duration_seconds',
      help: 'Time a handler ran, per attempt.',
      labelNames: ['type'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
  }
}
