import { ConfigError } from '../errors.ts'

/**
 * A single environment variable: how to parse it, its default and unit, and what it means. docs/configuration.md's
 * table and the chart's `config` values and schema are generated from these (`make docs`), so
 * neither can drift from the code.
 */
export interface Setting<T> {
  /** Environment variable name. */
  readonly env: string
  /** Value when the variable is unset or empty; `undefined` means "not set" (only for optional settings). */
  readonly default: T
  /** Unit or shape of the value, for the docs (for example `ms`, `bytes`, `count`). */
  readonly unit: string
  /** What the setting controls, one sentence. */
  readonly doc: string
  /** Hide the value in logs and docs (passwords, tokens). */
  readonly secret?: boolean
  /** What `parse` accepts, as JSON Schema (the chart's values.schema.json is generated from it). */
  readonly schema: SettingSchema
  /** Converts the raw string; throws an Error whose message explains what is accepted. */
  parse(raw: string): T
}

/** JSON Schema of one value: the bounds, pattern or words its setting's `parse` accepts. */
export type SettingSchema =
  | IntegerSchema
  | { readonly type: 'string'; readonly pattern?: string }
  | { readonly enum: readonly string[] }
  | { readonly type: 'array'; readonly minItems: number; readonly items: IntegerSchema }

/** JSON Schema of a whole number; a bound is absent when the setting has none. */
export interface IntegerSchema {
  readonly type: 'integer'
  readonly minimum?: number
  readonly maximum?: number
}

interface Describe {
  doc: string
  unit?: string
}

function integerSchema(d: { min?: number; max?: number }): IntegerSchema {
  return { type: 'integer', ...(d.min === undefined ? {} : { minimum: d.min }), ...(d.max === undefined ? {} : { maximum: d.max }) }
}

/** A whole number within [min, max]. */
export function integer(env: string, d: Describe & { default: number; min?: number; max?: number }): Setting<number> {
  const min = d.min ?? Number.MIN_SAFE_INTEGER
  const max = d.max ?? Number.MAX_SAFE_INTEGER
  return {
    env,
    default: d.default,
    unit: d.unit ?? 'count',
    doc: d.doc,
    schema: integerSchema(d),
    parse(raw) {
      if (!/^-?\d+$/.test(raw.trim())) throw new Error(`must be a whole number, got "${raw}"`)
      const value = Number(raw)
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        throw new Error(`must be between ${min} and ${max}, got ${raw}`)
      }
      return value
    },
  }
}

/** A comma-separated list of whole numbers, each within [min, max]. */
export function integerList(env: string, d: Describe & { default: readonly number[]; min?: number; max?: number }): Setting<readonly number[]> {
  const item = integer(env, { doc: d.doc, default: 0, ...(d.min === undefined ? {} : { min: d.min }), ...(d.max === undefined ? {} : { max: d.max }) })
  return {
    env,
    default: d.default,
    unit: d.unit ?? 'list',
    doc: d.doc,
    schema: { type: 'array', minItems: 1, items: integerSchema(d) },
    parse(raw) {
      const values = raw.split(',').map((part) => item.parse(part.trim()))
      if (values.length === 0) throw new Error('must list at least one value')
      return values
    },
  }
}

/** Free text matching `pattern` (anchored by the caller). */
export function text(env: string, d: Describe & { default: string; pattern?: RegExp; hint?: string }): Setting<string> {
  return {
    env,
    default: d.default,
    unit: d.unit ?? 'string',
    doc: d.doc,
    schema: { type: 'string', ...(d.pattern ? { pattern: d.pattern.source } : {}) },
    parse(raw) {
      if (d.pattern && !d.pattern.test(raw)) throw new Error(`must be ${d.hint ?? `like ${d.pattern}`}, got "${raw}"`)
      return raw
    },
  }
}

/** Optional free text; `undefined` when unset. */
export function optionalText(env: string, d: Describe & { secret?: boolean }): Setting<string | undefined> {
  return {
    env,
    default: undefined,
    unit: d.unit ?? 'string',
    doc: d.doc,
    ...(d.secret ? { secret: true } : {}),
    schema: { type: 'string' },
    parse: (raw) => raw,
  }
}

/** One of a fixed set of words. */
export function oneOf<const T extends string>(env: string, d: Describe & { default: T; values: readonly T[] }): Setting<T> {
  return {
    env,
    default: d.default,
    unit: d.values.join(' \\| '),
    doc: d.doc,
    schema: { enum: d.values },
    parse(raw) {
      const value = raw.trim() as T
      if (!d.values.includes(value)) throw new Error(`must be one of ${d.values.join(', ')}, got "${raw}"`)
      return value
    },
  }
}

/** A named group of settings; `readSettings` turns it into a typed object with the same keys. */
export type SettingGroup = Record<string, Setting<unknown>>

/** The typed values of a setting group. */
export type ValuesOf<G extends SettingGroup> = { readonly [K in keyof G]: G[K] extends Setting<infer T> ? T : never }

/**
 * Reads every setting of `group` from `env`. Returns the typed values, or collects every problem so one
 * `ConfigError` names them all.
 */
export function readSettings<G extends SettingGroup>(env: NodeJS.ProcessEnv, group: G, problems: string[]): ValuesOf<G> {
  const values: Record<string, unknown> = {}
  for (const [key, setting] of Object.entries(group)) {
    const raw = env[setting.env]
    if (raw === undefined || raw === '') {
      values[key] = setting.default
      continue
    }
    try {
      values[key] = setting.parse(raw)
    } catch (error) {
      problems.push(`${setting.env} ${(error as Error).message}`)
    }
  }
  return values as ValuesOf<G>
}

/**
 * Rejects variables that look like ours (by prefix) but name no known setting: a typo such as
 * `QUEUE_MAX_MESAGES` must fail loudly rather than silently keep the default.
 */
export function findUnknownSettings(env: NodeJS.ProcessEnv, prefixes: readonly string[], known: ReadonlySet<string>): string[] {
  const problems: string[] = []
  for (const name of Object.keys(env)) {
    if (known.has(name) || !prefixes.some((prefix) => name.startsWith(prefix))) continue
    problems.push(`${name} is not a known setting${suggest(name, known)}`)
  }
  return problems
}

function suggest(name: string, known: ReadonlySet<string>): string {
  let best: string | undefined
  let bestDistance = 4
  for (const candidate of known) {
    const distance = editDistance(name, candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best ? ` (did you mean ${best}?)` : ''
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

/** Throws one `ConfigError` naming every problem, if there are any. */
export function assertNoProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new ConfigError(problems)
}
