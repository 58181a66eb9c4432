import { assertNoProblems, findUnknownSettings, readSettings, type ValuesOf } from './settings.ts'
import {
  allSettingGroups,
  autoscalerSettings,
  ingressSettings,
  logSettings,
  natsSettings,
  queueSettings,
  settingPrefixes,
  workerSettings,
} from './sluice-settings.ts'

/** NATS connection settings. */
export type NatsConfig = ValuesOf<typeof natsSettings>
/** Queue topology settings. */
export type QueueConfig = ValuesOf<typeof queueSettings>
/** Ingress process settings. */
export type IngressSettings = ValuesOf<typeof ingressSettings>
/** Worker process settings. */
export type WorkerSettings = ValuesOf<typeof workerSettings>
/** Autoscaler process settings (and the local mode's scaling policy). */
export type AutoscalerSettings = ValuesOf<typeof autoscalerSettings>
/** Logging settings. */
export type LogConfig = ValuesOf<typeof logSettings>

/** Everything the ingress reads at start-up. */
export interface IngressConfig {
  readonly nats: NatsConfig
  readonly queue: QueueConfig
  readonly ingress: IngressSettings
  readonly log: LogConfig
}

/** Everything a worker reads at start-up. */
export interface WorkerConfig {
  readonly nats: NatsConfig
  readonly queue: QueueConfig
  readonly worker: WorkerSettings
  readonly log: LogConfig
}

/** Everything the autoscaler reads at start-up; `queue` names the stream and consumer local mode watches. */
export interface AutoscalerConfig {
  readonly nats: NatsConfig
  readonly queue: QueueConfig
  readonly autoscaler: AutoscalerSettings
  readonly log: LogConfig
}

const knownNames: ReadonlySet<string> = new Set(
  Object.values(allSettingGroups).flatMap((group) => Object.values(group).map((setting) => setting.env)),
)

/** Parses the ingress configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadIngressConfig(env: NodeJS.ProcessEnv = process.env): IngressConfig {
  const problems = findUnknownSettings(env, settingPrefixes, knownNames)
  const config = {
    nats: readNats(env, problems),
    queue: readQueue(env, problems),
    ingress: readSettings(env, ingressSettings, problems),
    log: readSettings(env, logSettings, problems),
  }
  if (config.ingress.auth === 'api-key' && config.ingress.apiKeysFile === undefined) {
    problems.push('INGRESS_AUTH=api-key needs INGRESS_API_KEYS_FILE (the keys, one per line)')
  }
  if (config.ingress.seedRoute === 'protected' && config.ingress.auth === 'none') {
    problems.push('INGRESS_SEED_ROUTE=protected needs INGRESS_AUTH=api-key')
  }
  assertNoProblems(problems)
  return config
}

/** Parses the worker configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const problems = findUnknownSettings(env, settingPrefixes, knownNames)
  const config = {
    nats: readNats(env, problems),
    queue: readQueue(env, problems),
    worker: readSettings(env, workerSettings, problems),
    log: readSettings(env, logSettings, problems),
  }
  if (config.worker.concurrency > config.queue.maxAckPending) {
    problems.push(
      `WORKER_CONCURRENCY (${config.worker.concurrency}) exceeds QUEUE_MAX_ACK_PENDING (${config.queue.maxAckPending}): ` +
        'a worker could never fill its slots',
    )
  }
  assertNoProblems(problems)
  return config
}

function readNats(env: NodeJS.ProcessEnv, problems: string[]): NatsConfig {
  const nats = readSettings(env, natsSettings, problems)
  const methods = [nats.user !== undefined || nats.password !== undefined, nats.token !== undefined, nats.credsFile !== undefined]
  if (methods.filter(Boolean).length > 1) {
    problems.push('NATS_USER/NATS_PASSWORD, NATS_TOKEN and NATS_CREDS_FILE are alternatives: set only one')
  }
  if ((nats.user === undefined) !== (nats.password === undefined)) {
    problems.push('NATS_USER and NATS_PASSWORD must be set together')
  }
  if ((nats.tlsCertFile === undefined) !== (nats.tlsKeyFile === undefined)) {
    problems.push('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE must be set together')
  }
  return nats
}

function readQueue(env: NodeJS.ProcessEnv, problems: string[]): QueueConfig {
  const queue = readSettings(env, queueSettings, problems)
  if (queue.subjectPrefix === queue.deadLetterSubjectPrefix) {
    problems.push('QUEUE_SUBJECT_PREFIX and QUEUE_DLQ_SUBJECT_PREFIX must differ: the streams cannot share subjects')
  }
  if (queue.stream === queue.deadLetterStream) {
    problems.push('QUEUE_STREAM and QUEUE_DLQ_STREAM must differ')
  }
  return queue
}

/** Parses the autoscaler configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadAutoscalerConfig(env: NodeJS.ProcessEnv = process.env): AutoscalerConfig {
  const problems = findUnknownSettings(env, settingPrefixes, knownNames)
  const config = {
    nats: readNats(env, problems),
    queue: readQueue(env, problems),
    autoscaler: readSettings(env, autoscalerSettings, problems),
    log: readSettings(env, logSettings, problems),
  }
  const { minReplicas, maxReplicas, leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds } = config.autoscaler
  if (minReplicas > maxReplicas) {
    problems.push(`AUTOSCALE_MIN_REPLICAS (${minReplicas}) exceeds AUTOSCALE_MAX_REPLICAS (${maxReplicas})`)
  }
  // The same ordering client-go insists on: a leader must give up before a follower may take over.
  if (renewDeadlineSeconds >= leaseDurationSeconds) {
    problems.push(`AUTOSCALER_RENEW_DEADLINE_SECONDS (${renewDeadlineSeconds}) must be less than AUTOSCALER_LEASE_DURATION_SECONDS (${leaseDurationSeconds})`)
  }
  if (retryPeriodSeconds >= renewDeadlineSeconds) {
    problems.push(`AUTOSCALER_RETRY_PERIOD_SECONDS (${retryPeriodSeconds}) must be less than AUTOSCALER_RENEW_DEADLINE_SECONDS (${renewDeadlineSeconds})`)
  }
  assertNoProblems(problems)
  return config
}
