import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** How an attempt ended; the `outcome` label of `sluice_worker_jobs_total`. */
export type JobOutcome = 'succeeded' | 'retried' | 'dead' | 'returned' | 'already_done' | 'cancelled'

/** The worker's Prometheus metrics, on a registry of its own. */
export interface WorkerMetrics {
  readonly registry: Registry
  /** Counts a finished attempt of a job of `type`. */
  countOutcome(type: string, outcome: JobOutcome): void
  /** Records how long a handler for `type` ran. */
  observeDuration(type: string, seconds: number): void
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
  const jobs = new Counter({
    name: 'sluice_worker_jobs_total',
    help: 'Finished attempts by outcome: succeeded, retried (failed, will retry), dead (dead-lettered), returned (handed back on shutdown), already_done (a redelivery of a job whose earlier attempt had succeeded: acknowledged, not run), cancelled (cancelled while running: aborted, not retried).',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'sluice_worker_job_duration_seconds',
    help: 'Time a handler ran, per attempt.',
    labelNames: ['type'] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  })
  return new LabelledWorkerMetrics(registry, jobs, duration)
}

interface TypeSeries {
  readonly duration: Histogram.Internal<'type'>
  readonly outcomes: Map<JobOutcome, Counter.Internal>
}

// The labelled series are looked up once per job type rather than from a fresh labels object per job:
// at thousands of no-op jobs a second, building and hashing those objects showed in profiles. Types are
// handler names (unknown ones are counted as `unknown`), so the map stays small.
class LabelledWorkerMetrics implements WorkerMetrics {
  readonly registry: Registry
  readonly #jobs: Counter<'type' | 'outcome'>
  readonly #duration: Histogram<'type'>
  readonly #byType = new Map<string, TypeSeries>()

  constructor(registry: Registry, jobs: Counter<'type' | 'outcome'>, duration: Histogram<'type'>) {
    this.registry = registry
    this.#jobs = jobs
    this.#duration = duration
  }

  countOutcome(type: string, outcome: JobOutcome): void {
    const { outcomes } = this.#series(type)
    let counter = outcomes.get(outcome)
    if (!counter) {
      counter = this.#jobs.labels(type, outcome)
      outcomes.set(outcome, counter)
    }
    counter.inc()
  }

  observeDuration(type: string, seconds: number): void {
    this.#series(type).duration.observe(seconds)
  }

  #series(type: string): TypeSeries {
    let series = this.#byType.get(type)
    if (!series) {
      series = { duration: this.#duration.labels(type), outcomes: new Map() }
      this.#byType.set(type, series)
    }
    return series
  }
}
