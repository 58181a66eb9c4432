import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Why a job was not accepted; the `reason` label of `sluice_ingress_jobs_rejected_total`. */
export type RejectReason = 'queue_full' | 'overloaded' | 'unavailable' | 'busy' | 'invalid'

/** The ingress's Prometheus metrics, on a registry of its own (so tests can build many apps). */
export interface IngressMetrics {
  readonly registry: Registry
  readonly accepted: Counter<'route'>
  readonly duplicates: Counter<'route'>
  readonly rejected: Counter<'reason'>
  readonly publishSeconds: Histogram
}

/** Creates the metrics; `inflight` is read at scrape time. */
export function createIngressMetrics(inflight: () => number): IngressMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  new Gauge({
    name: 'sluice_ingress_publishes_in_flight',
    help: "Publishes awaiting the server's acknowledgement.",
    registers: [registry],
    collect() {
      this.set(inflight())
    },
  })
  return {
    registry,
    accepted: new Counter({ name: 'sluice_ingress_jobs_accepted_total', help: 'Jobs stored in the queue.', labelNames: ['route'], registers: [registry] }),
    duplicates: new Counter({
      name: 'sluice_ingress_jobs_duplicate_total',
      help: 'Submissions whose Idempotency-Key was already queued inside the duplicate window.',
      labelNames: ['route'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'sluice_ingress_jobs_rejected_total',
      help: 'Submissions not accepted, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: 'sluice_ingress_publish_duration_seconds',
      help: "Time from publish to the server's acknowledgement.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  }
}
