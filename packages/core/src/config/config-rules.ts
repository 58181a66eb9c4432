import type { Setting } from './settings.ts'
import { autoscalerSettings, ingressSettings, queueSettings, workerSettings } from './sluice-settings.ts'

/**
 * A rule across settings that no single setting's bounds can state (the NATS credentials' rules, which
 * QueueScaler Secrets follow too, are nats-credentials.ts's). Rules are data, so each is stated once:
 * the apps' loaders check them ({@link findRuleProblems}) and the chart's validateValues is generated from
 * them (`make docs` writes charts/sluice/templates/_config-rules.tpl).
 */
export type ConfigRule =
  | OrderRule
  | { readonly kind: 'differ'; readonly settings: readonly [Setting<string>, Setting<string>]; readonly why?: string }
  | RequiresRule

/** `lower` must not exceed `higher` (`strict`: must be less than it). */
export interface OrderRule {
  readonly kind: 'order'
  readonly lower: Setting<number>
  readonly higher: Setting<number>
  readonly strict: boolean
  readonly why?: string
}

/** When `when` is `is`, `needs` must be set (`to` given: must be `to`). */
export interface RequiresRule {
  readonly kind: 'requires'
  readonly when: Setting<string>
  readonly is: string
  readonly needs: Setting<unknown>
  readonly to?: string
  readonly why?: string
}

/** Every rule across settings; an app checks those whose settings it all reads. */
export const configRules: readonly ConfigRule[] = [
  { kind: 'differ', settings: [queueSettings.subjectPrefix, queueSettings.deadLetterSubjectPrefix], why: 'the streams cannot share subjects' },
  { kind: 'differ', settings: [queueSettings.stream, queueSettings.deadLetterStream] },
  { kind: 'requires', when: ingressSettings.auth, is: 'api-key', needs: ingressSettings.apiKeysFile, why: 'the keys, one per line' },
  { kind: 'requires', when: ingressSettings.seedRoute, is: 'protected', needs: ingressSettings.auth, to: 'api-key' },
  {
    kind: 'order',
    lower: ingressSettings.headersTimeoutMs,
    higher: ingressSettings.requestTimeoutMs,
    strict: false,
    why: 'the headers are part of the request',
  },
  { kind: 'order', lower: workerSettings.concurrency, higher: queueSettings.maxAckPending, strict: false, why: 'a worker could never fill its slots' },
  { kind: 'order', lower: autoscalerSettings.minReplicas, higher: autoscalerSettings.maxReplicas, strict: false },
  // client-go's leader election insists on the same two orderings.
  {
    kind: 'order',
    lower: autoscalerSettings.renewDeadlineSeconds,
    higher: autoscalerSettings.leaseDurationSeconds,
    strict: true,
    why: 'a leader must give up before a follower may take over',
  },
  {
    kind: 'order',
    lower: autoscalerSettings.retryPeriodSeconds,
    higher: autoscalerSettings.renewDeadlineSeconds,
    strict: true,
    why: 'the leader must get to retry before it gives up',
  },
]

/** The settings a rule relates. */
export function ruleSettings(rule: ConfigRule): readonly Setting<unknown>[] {
  switch (rule.kind) {
    case 'order':
      return [rule.lower, rule.higher]
    case 'differ':
      return rule.settings
    case 'requires':
      return [rule.when, rule.needs]
  }
}

/**
 * How a rule is broken, in words. `term` names a setting (`withValue`: followed by its value), so the app
 * (`NAME (value)`) and the chart (`config.NAME (%v)`) say the same sentence.
 */
export function ruleMessage(rule: ConfigRule, term: (setting: Setting<unknown>, withValue: boolean) => string): string {
  const because = rule.why === undefined ? '' : `: ${rule.why}`
  switch (rule.kind) {
    case 'order':
      return `${term(rule.lower, true)} ${rule.strict ? 'must be less than' : 'exceeds'} ${term(rule.higher, true)}${because}`
    case 'differ':
      return `${term(rule.settings[0], false)} and ${term(rule.settings[1], false)} must differ${because}`
    case 'requires':
      return `${term(rule.when, false)}=${rule.is} needs ${term(rule.needs, false)}${rule.to === undefined ? '' : `=${rule.to}`}${because}`
  }
}

/** Whether `values` (a setting's value, `undefined` when unset or invalid) break `rule`. */
function breaks(rule: ConfigRule, values: ReadonlyMap<Setting<unknown>, unknown>): boolean {
  const isSet = (setting: Setting<unknown>): boolean => values.get(setting) !== undefined
  switch (rule.kind) {
    case 'order': {
      const lower = values.get(rule.lower) as number | undefined
      const higher = values.get(rule.higher) as number | undefined
      if (lower === undefined || higher === undefined) return false
      return rule.strict ? lower >= higher : lower > higher
    }
    case 'differ':
      return isSet(rule.settings[0]) && values.get(rule.settings[0]) === values.get(rule.settings[1])
    case 'requires':
      if (values.get(rule.when) !== rule.is) return false
      return rule.to === undefined ? !isSet(rule.needs) : values.get(rule.needs) !== rule.to
  }
}

/**
 * The problems `values` have against every rule whose settings are all among its keys (an app checks only
 * the rules about settings it reads). A setting that failed to parse reads as unset, so it is named once.
 */
export function findRuleProblems(values: ReadonlyMap<Setting<unknown>, unknown>): string[] {
  const problems: string[] = []
  for (const rule of configRules) {
    if (!ruleSettings(rule).every((setting) => values.has(setting)) || !breaks(rule, values)) continue
    problems.push(ruleMessage(rule, (setting, withValue) => (withValue ? `${setting.env} (${String(values.get(setting))})` : setting.env)))
  }
  return problems
}
