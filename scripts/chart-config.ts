// Writes the chart's `config:` values (charts/sluice/values.yaml) and their schema (the `config` property of
// values.schema.json) from the settings themselves (`make docs`), so the chart's keys, defaults, units and
// bounds cannot drift from what the apps parse. What the chart does differently is listed here, with why.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { allSettingGroups, exitBounds, type ExitBound, type Setting, type SettingSchema } from '@sluice/core'
import { GROUP_TITLES } from './config-table.ts'

const SOURCE = 'packages/core/src/config/sluice-settings.ts'

/** Settings the chart sets itself, never from `config`, and where their values come from. */
export const chartSetSettings: Readonly<Record<string, string>> = {
  NATS_URL: 'nats.url or the built-in NATS',
  NATS_USER: 'the Secret of nats.auth',
  NATS_PASSWORD: 'the Secret of nats.auth',
  NATS_TOKEN: 'the Secret of nats.auth',
  NATS_CREDS_FILE: 'the Secret of nats.auth',
  NATS_TLS_CA_FILE: 'the Secret of nats.tls',
  NATS_TLS_CERT_FILE: 'the Secret of nats.tls',
  NATS_TLS_KEY_FILE: 'the Secret of nats.tls',
  INGRESS_API_KEYS_FILE: 'the Secret of ingress.apiKeys',
  JOB_TYPES_FILE: 'jobTypes, mounted into the ingress and worker pods',
  WORKER_HANDLERS_MODULE: 'your own worker image (worker.image; docs/your-own-jobs.md)',
  WORKER_HTTP_SIGNING_SECRET: 'the Secret of worker.http.signingSecret',
  JOB_CALLBACK_SIGNING_SECRET: 'the Secret of callbacks.signingSecret',
  HOST: "the pods' ports",
  PORT: "the pods' ports",
  INGRESS_OPS_PORT: "the pods' ports",
  WORKER_HOST: "the pods' ports",
  WORKER_PORT: "the pods' ports",
  AUTOSCALER_HOST: "the pods' ports",
  AUTOSCALER_PORT: "the pods' ports",
  AUTOSCALER_MODE: 'the cluster (kubernetes)',
  AUTOSCALER_NAMESPACE: 'the pod',
  AUTOSCALER_IDENTITY: 'the pod',
}

/** Local mode's scaling policy (`make dev`); in Kubernetes each QueueScaler carries its own (`scaling`). */
export const isLocalModeOnly = (setting: Setting<unknown>): boolean => setting.env.startsWith('AUTOSCALE_')

/** Every setting `config` offers, in the order of the settings file. */
export const chartConfigSettings: readonly Setting<unknown>[] = Object.values(allSettingGroups)
  .flatMap((group) => Object.values(group as Record<string, Setting<unknown>>))
  .filter((setting) => !(setting.env in chartSetSettings) && !isLocalModeOnly(setting))

/**
 * Where each app's pods state their grace period, and the seconds they spend before SIGTERM (the ingress's
 * preStop sleep): the grace must exceed those plus the app's exit bound (exit-bounds.ts).
 */
export const chartGrace: Readonly<Record<keyof typeof exitBounds, { grace: string; beforeSigterm?: string }>> = {
  ingress: { grace: 'ingress.terminationGracePeriodSeconds', beforeSigterm: 'ingress.preStopSleepSeconds' },
  worker: { grace: 'worker.terminationGracePeriodSeconds' },
  autoscaler: { grace: 'autoscaler.terminationGracePeriodSeconds' },
}

/** An exit bound in words: `WORKER_DRAIN_MS + 5 s`. */
export function exitBoundTerms(bound: ExitBound): string {
  return [...bound.settings.map((setting) => setting.env), ...(bound.marginMs > 0 ? [`${bound.marginMs / 1000} s`] : [])].join(' + ')
}

/** The grace rule in words, for the comment of each setting in an exit bound. */
function graceNotes(): Record<string, string> {
  const notes: Record<string, string> = {}
  for (const [app, bound] of Object.entries(exitBounds) as [keyof typeof exitBounds, ExitBound][]) {
    const { grace, beforeSigterm } = chartGrace[app]
    for (const setting of bound.settings) notes[setting.env] = `${grace} must exceed ${beforeSigterm ? `${beforeSigterm} + ` : ''}${exitBoundTerms(bound)}.`
  }
  return notes
}

/** What the chart needs to say beyond the setting's own doc, about its other values. */
const chartNotes: Readonly<Record<string, string>> = {
  QUEUE_MAX_ACK_PENDING: 'Keep it at least worker pods × WORKER_CONCURRENCY.',
  INGRESS_AUTH: 'The keys come from ingress.apiKeys.existingSecret.',
  INGRESS_MAX_CONNECTIONS: 'The default bounds bodies to 1024 × 64 KiB = 64 MiB, inside the 128 MB heap of ingress.nodeOptions.',
  AUTOSCALER_LEASE_NAME: 'Shared by the autoscalers of one namespace.',
  ...graceNotes(),
}

/** Where the chart differs from the app: its own default (if it has one), the schema it takes instead (if another), and why. */
const chartDifferences: Readonly<Record<string, { default?: null | number; schema?: (own: SettingSchema) => object; why: string }>> = {
  QUEUE_REPLICAS: {
    default: null,
    schema: (own) => ({ ...own, type: ['integer', 'null'] }),
    why: "null (the chart's default): as many as the built-in NATS has servers (1 or 3), else 1.",
  },
  INGRESS_WARMUP_REQUESTS: {
    default: 3000,
    why: "3000 in the chart (the app's default is 0): a new pod warms up before it takes traffic.",
  },
  QUEUE_RETRY_BACKOFF_MS: {
    schema: (own) => ({ anyOf: [own, { type: 'string', pattern: '^[0-9]+(,[0-9]+)*$' }] }),
    why: 'A YAML list or a comma-separated string.',
  },
}

/** The value values.yaml gives a setting: the app's default, unless the chart has its own. */
function chartDefault(setting: Setting<unknown>): unknown {
  const difference = chartDifferences[setting.env]
  return difference && 'default' in difference ? difference.default : setting.default
}

/** Units a reader needs spelled out; the others (count, name, ...) say nothing a key's doc does not. */
const SPOKEN_UNITS = new Set(['ms', 'bytes', 's', 'levels', 'port', 'req/s', 'jobs/s', 'ms list'])

function boundsPhrase(schema: SettingSchema): string {
  const bounds = 'items' in schema ? schema.items : schema
  if (!('type' in bounds) || bounds.type !== 'integer') return 'enum' in schema ? `One of: ${schema.enum.join(', ')}.` : ''
  const { minimum, maximum } = bounds
  const each = 'items' in schema ? 'each ' : ''
  if (minimum !== undefined && maximum !== undefined) return `${each}from ${minimum} to ${maximum}`
  if (minimum !== undefined) return `${each}at least ${minimum}`
  return maximum === undefined ? '' : `${each}at most ${maximum}`
}

/** The default in words where digits hide it: 604800000 ms is 7 days. */
function readableDefault(setting: Setting<unknown>): string {
  const value = setting.default
  if (typeof value !== 'number' || value === 0) return ''
  const scales: Record<string, Array<[number, string]>> = {
    bytes: [
      [2 ** 30, 'GiB'],
      [2 ** 20, 'MiB'],
      [2 ** 10, 'KiB'],
    ],
    ms: [
      [86_400_000, 'days'],
      [3_600_000, 'hours'],
      [60_000, 'minutes'],
    ],
  }
  for (const [size, name] of scales[setting.unit] ?? []) {
    if (value >= size && value % size === 0) return ` (default ${value / size} ${value === size ? name.replace(/s$/, '') : name})`
  }
  return ''
}

/** The `# --` comment of one key: the setting's doc, the chart's note, then unit and bounds. */
function keyComment(setting: Setting<unknown>): string[] {
  const difference = chartDifferences[setting.env]
  const bounds = boundsPhrase(setting.schema)
  const unit = SPOKEN_UNITS.has(setting.unit)
    ? `Unit: ${setting.unit}${readableDefault(setting)}${bounds && !bounds.startsWith('One') ? `, ${bounds}` : ''}.`
    : ''
  const boundsAlone = unit || !bounds ? '' : bounds.startsWith('One') ? bounds : `${bounds[0]!.toUpperCase()}${bounds.slice(1)}.`
  const text = [setting.doc, chartNotes[setting.env], unit, boundsAlone, difference?.why].filter(Boolean).join(' ')
  return wrap(`# -- ${text}`, 108).map((line, index) => (index === 0 ? line : `# ${line}`))
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  return [...lines, line]
}

function yamlScalar(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `[${value.map(yamlScalar).join(', ')}]`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  const text = String(value)
  // Plain only when YAML cannot read it as anything but this string.
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(text) && !/^(true|false|yes|no|on|off|null|y|n)$/i.test(text) ? text : JSON.stringify(text)
}

const VALUES_BEGIN = `# config:begin (generated by \`make docs\` from ${SOURCE}; edit the settings, not this block)`
const VALUES_END = '# config:end'

/** The `config:` block of values.yaml, between its markers. */
export function configValuesBlock(): string {
  const chartSet = [...new Set(Object.values(chartSetSettings))].map((from) => {
    const names = Object.keys(chartSetSettings).filter((name) => chartSetSettings[name] === from)
    return `${names.join(', ')} from ${from}`
  })
  const lines = [
    VALUES_BEGIN,
    ...wrap(
      'Settings every app reads from ONE ConfigMap (envFrom), named as in docs/configuration.md. Each ' +
        "value is the apps' own default, unless its comment says why the chart differs. A change here rolls every pod " +
        "(the ConfigMap's checksum is a pod annotation). values.schema.json holds the settings' own bounds, and " +
        'validateValues their rules across settings (templates/_config-rules.tpl), so what an app would refuse at start ' +
        `fails the install instead. The chart sets these itself: ${chartSet.join('; ')}. AUTOSCALE_* is local mode's ` +
        'policy: in Kubernetes each QueueScaler carries its own (`scaling`).',
      108,
    ).map((line) => `# ${line}`),
    'config:',
  ]
  for (const [group, settings] of Object.entries(allSettingGroups) as [keyof typeof allSettingGroups, Record<string, Setting<unknown>>][]) {
    const offered = Object.values(settings).filter((setting) => chartConfigSettings.includes(setting))
    if (offered.length === 0) continue
    lines.push('', `  # ${GROUP_TITLES[group]}`)
    for (const setting of offered) {
      lines.push(...keyComment(setting).map((line) => `  ${line}`), `  ${setting.env}: ${yamlScalar(chartDefault(setting))}`)
    }
  }
  lines.push(VALUES_END)
  return lines.join('\n')
}

/** values.yaml with its `config:` block replaced by the generated one. */
export function valuesWithConfig(values: string): string {
  const start = values.indexOf(VALUES_BEGIN.slice(0, VALUES_BEGIN.indexOf(' (')))
  const end = values.indexOf(VALUES_END)
  if (start < 0 || end < start) throw new Error(`values.yaml lacks the ${VALUES_BEGIN} ... ${VALUES_END} markers`)
  return `${values.slice(0, start)}${configValuesBlock()}${values.slice(end + VALUES_END.length)}`
}

/** The `config` property of values.schema.json. */
export function configSchema(): object {
  const properties: Record<string, object> = {}
  for (const setting of chartConfigSettings) {
    const difference = chartDifferences[setting.env]
    properties[setting.env] = { ...(difference?.schema?.(setting.schema) ?? setting.schema), description: setting.doc }
  }
  return {
    $comment: `Generated by \`make docs\` from ${SOURCE}: edit the settings, not this.`,
    type: 'object',
    description: "The apps' environment (docs/configuration.md): only settings the apps know, with their own bounds.",
    additionalProperties: false,
    // Every key but the nullable ones: null would silently drop a value the templates read.
    required: chartConfigSettings.filter((setting) => chartDefault(setting) !== null).map((setting) => setting.env),
    properties,
  }
}

/** One line of JSON with spaces after `:` and `,`, as the hand-written rest of the schema is. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`
  if (value && typeof value === 'object')
    return `{ ${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}: ${inline(item)}`)
      .join(', ')} }`
  return JSON.stringify(value)
}

/** The schema with its `config` property replaced by the generated one (the rest kept as written). */
export function schemaWithConfig(schema: string): string {
  const key = '\n    "config": {'
  const start = schema.indexOf(key)
  if (start < 0) throw new Error('values.schema.json lacks a top-level "config" property')
  let depth = 0
  let end = start + key.length - 1
  for (let inString = false; end < schema.length; end++) {
    const char = schema[end]
    if (inString) {
      if (char === '\\') end++
      else if (char === '"') inString = false
    } else if (char === '"') inString = true
    else if (char === '{') depth++
    else if (char === '}' && --depth === 0) break
  }
  const { properties, required, ...head } = configSchema() as { properties: Record<string, object>; required: string[] }
  const block = [
    '\n    "config": {',
    ...Object.entries(head).map(([name, value]) => `      ${JSON.stringify(name)}: ${inline(value)},`),
    `      "required": [\n${wrap(required.map((name) => JSON.stringify(name)).join(', '), 104)
      .map((line) => `        ${line}`)
      .join('\n')}\n      ],`,
    '      "properties": {',
    Object.entries(properties)
      .map(([name, rule]) => `        ${JSON.stringify(name)}: ${inline(rule)}`)
      .join(',\n'),
    '      }',
    '    }',
  ].join('\n')
  const result = `${schema.slice(0, start)}${block}${schema.slice(end + 1)}`
  JSON.parse(result)
  return result
}

if (import.meta.main) {
  const chart = join(import.meta.dirname, '..', 'charts', 'sluice')
  const valuesPath = join(chart, 'values.yaml')
  writeFileSync(valuesPath, valuesWithConfig(readFileSync(valuesPath, 'utf8')))
  const schemaPath = join(chart, 'values.schema.json')
  writeFileSync(schemaPath, schemaWithConfig(readFileSync(schemaPath, 'utf8')))
  console.log('charts/sluice/values.yaml config and values.schema.json config updated')
}
