import { natsCredentialProblems, type NatsCredentialNames } from '../nats-credentials.ts'
import { findRuleProblems } from './config-rules.ts'
import { assertNoProblems, findUnknownSettings, readSettings, type Setting, type SettingGroup, type ValuesOf } from './settings.ts'
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

const knownNames: ReadonlySet<string> = new Set(Object.values(allSettingGroups).flatMap((group) => Object.values(group).map((setting) => setting.env)))

/** Parses the ingress configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadIngressConfig(env: NodeJS.ProcessEnv = process.env): IngressConfig {
  return loadAppConfig(env, 'ingress', ingressSettings)
}

/** Parses the worker configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadAppConfig(env, 'worker', workerSettings)
}

function readNats(env: NodeJS.ProcessEnv, problems: string[]): NatsConfig {
  const nats = readSettings(env, natsSettings, problems)
  const { user, password, token, credsFile: creds, tlsCertFile: clientCert, tlsKeyFile: clientKey } = nats
  problems.push(...natsCredentialProblems({ user, password, token, creds, clientCert, clientKey }, natsCredentialNames))
  return nats
}

/** Parses the autoscaler configuration once at start-up; throws a `ConfigError` naming every problem. */
export function loadAutoscalerConfig(env: NodeJS.ProcessEnv = process.env): AutoscalerConfig {
  return loadAppConfig(env, 'autoscaler', autoscalerSettings)
}

/**
 * The one loader: unknown variables, the groups every app reads and its own group, then the rules across
 * the settings it read (config-rules.ts); one ConfigError names every problem found.
 */
function loadAppConfig<K extends string, G extends SettingGroup>(env: NodeJS.ProcessEnv, key: K, group: G): AppConfig<K, ValuesOf<G>> {
  const problems = findUnknownSettings(env, settingPrefixes, knownNames)
  const config = {
    nats: readNats(env, problems),
    queue: readSettings(env, queueSettings, problems),
    log: readSettings(env, logSettings, problems),
    [key]: readSettings(env, group, problems),
  } as AppConfig<K, ValuesOf<G>>
  problems.push(...findRuleProblems(valuesBySetting({ nats: natsSettings, queue: queueSettings, log: logSettings, [key]: group }, config)))
  assertNoProblems(problems)
  return config
}

/** Each setting the app read, with its value (`undefined` when unset or invalid). */
function valuesBySetting(groups: Record<string, SettingGroup>, config: object): Map<Setting<unknown>, unknown> {
  const values = new Map<Setting<unknown>, unknown>()
  for (const [name, settings] of Object.entries(groups)) {
    const read = (config as Record<string, Record<string, unknown>>)[name]
    for (const [field, setting] of Object.entries(settings)) values.set(setting, read?.[field])
  }
  return values
}
