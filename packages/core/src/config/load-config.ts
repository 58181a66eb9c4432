import { natsCredentialProblems, type NatsCredentialNames } from '../nats-credentials.ts'
import { assertNoProblems, findUnknownSettings, readSettings, type SettingGroup, type ValuesOf } from './settings.ts'
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

/** What every app reads (NATS, the queue topology, logging) plus its own group under `K`. */
export type AppConfig<K extends string, S> = { readonly nats: NatsConfig; readonly queue: QueueConfig; readonly log: LogConfig } & {
  readonly [P in K]: S
}

/** Everything the ingress reads at start-up. */
export type IngressConfig = AppConfig<'ingress', IngressSettings>

/** Everything a worker reads at start-up. */
export type WorkerConfig = AppConfig<'worker', WorkerSettings>

/** Everything the autoscaler reads at start-up; `queue` names the stream and consumer local mode watches. */
export type AutoscalerConfig = AppConfig<'autoscaler', AutoscalerSettings>

// The credential rules' problems name the variables a deployer sets.
const natsCredentialNames: NatsCredentialNames = {
  user: natsSettings.user.env,
  password: natsSettings.password.env,
  token: natsSettings.token.env,
  creds: natsSettings.credsFile.env,
  clientCert: natsSettings.tlsCertFile.env,
  clientKey: natsSettings.tlsKeyFile.env,
}

const knownNames: ReadonlySet<string> = new Set(
  Object.values(allSettingGroups).flatMap((group) => Object.values(group).map((setting) => setting.env)),
)

/** Parses the ingress configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadIngressConfig(env: NodeJS.ProcessEnv = process.env): IngressConfig {
  return loadAppConfig(env, 'ingress', ingressSettings, (config, problems) => {
    if (config.ingress.auth === 'api-key' && config.ingress.apiKeysFile === undefined) {
      problems.push('INGRESS_AUTH=api-key needs INGRESS_API_KEYS_FILE (the keys, one per line)')
    }
    if (config.ingress.seedRoute === 'protected' && config.ingress.auth === 'none') {
      problems.push('INGRESS_SEED_ROUTE=protected needs INGRESS_AUTH=api-key')
    }
  })
}

/** Parses the worker configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadAppConfig(env, 'worker', workerSettings, (config, problems) => {
    if (config.worker.concurrency > config.queue.maxAckPending) {
      problems.push(
        `WORKER_CONCURRENCY (${config.worker.concurrency}) exceeds QUEUE_MAX_ACK_PENDING (${config.queue.maxAckPending}): ` +
          'a worker could never fill its slots',
      )
    }
  })
}

function readNats(env: NodeJS.ProcessEnv, problems: string[]): NatsConfig {
  const nats = readSettings(env, natsSettings, problems)
  const { user, password, token, credsFile: creds, tlsCertFile: clientCert, tlsKeyFile: clientKey } = nats
  problems.push(...natsCredentialProblems({ user, password, token, creds, clientCert, clientKey }, natsCredentialNames))
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
  return loadAppConfig(env, 'autoscaler', autoscalerSettings, (config, problems) => {
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
  })
}

/**
 * The shared part of every loader: unknown variables, the groups every app reads and its own group, then
 * the app's cross-setting checks; one ConfigError names every problem found.
 */
function loadAppConfig<K extends string, G extends SettingGroup>(
  env: NodeJS.ProcessEnv,
  key: K,
  group: G,
  check: (config: AppConfig<K, ValuesOf<G>>, problems: string[]) => void,
): AppConfig<K, ValuesOf<G>> {
  const problems = findUnknownSettings(env, settingPrefixes, knownNames)
  const config = {
    nats: readNats(env, problems),
    queue: readQueue(env, problems),
    log: readSettings(env, logSettings, problems),
    [key]: readSettings(env, group, problems),
  } as AppConfig<K, ValuesOf<G>>
  check(config, problems)
  assertNoProblems(problems)
  return config
}
