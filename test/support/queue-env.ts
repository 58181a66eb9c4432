import { randomBytes } from 'node:crypto'
import { loadIngressConfig, loadWorkerConfig, type IngressConfig, type WorkerConfig } from '@sluice/core'

/** Environment variables, as a process would get them. */
export type Env = Record<string, string>

/**
 * Environment for one test's queue: unique stream, consumer and bucket names, so tests never see each
 * other's jobs even on a shared (external) server. Logs are quiet unless LOG_LEVEL is set.
 */
export function queueEnv(natsUrl: string, overrides: Env = {}): Env {
  const tag = randomBytes(4).toString('hex').toUpperCase()
  return {
    NATS_URL: natsUrl,
    QUEUE_STREAM: `JOBS_${tag}`,
    QUEUE_SUBJECT_PREFIX: `jobs_${tag}`,
    QUEUE_CONSUMER: `workers_${tag}`,
    QUEUE_DLQ_STREAM: `JOBS_DLQ_${tag}`,
    QUEUE_DLQ_SUBJECT_PREFIX: `jobs_dlq_${tag}`,
    JOB_STATUS_BUCKET: `JOB_STATUS_${tag}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    ...overrides,
  }
}

/** The ingress configuration for `env` (and nothing from this process's environment). */
export function ingressConfigFor(env: Env): IngressConfig {
  return loadIngressConfig(env)
}

/** The worker configuration for `env`. */
export function workerConfigFor(env: Env): WorkerConfig {
  return loadWorkerConfig(env)
}
