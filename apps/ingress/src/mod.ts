// Public surface of the ingress workspace, for tests and benchmarks that build it in-process.
export { buildIngress } from './app.ts'
export type { Ingress, IngressDependencies } from './app.ts'
export { FULL_HOLD_MS, JobPublisher, toQueueError } from './job-publisher.ts'
export type { JobPublisherOptions, OutgoingJob } from './job-publisher.ts'
