import {
  ConfigError,
  configRules,
  exitBoundMs,
  exitBounds,
  loadAutoscalerConfig,
  loadIngressConfig,
  loadWorkerConfig,
  ruleMessage,
  type ConfigRule,
  type Setting,
} from '@sluice/core'
import { describe, expect, it } from 'vitest'
import { notOnConfig } from '../../scripts/chart-config-rules.ts'
import { chartGrace } from '../../scripts/chart-config.ts'
import { findObject, helmSkipReason, helmTemplate, renderChart } from './helm.ts'

const skipReason = helmSkipReason()

/** Every problem the three apps' loaders find in `env`. */
function appProblems(env: Record<string, string>): string[] {
  const problems = new Set<string>()
  for (const load of [loadIngressConfig, loadWorkerConfig, loadAutoscalerConfig]) {
    try {
      load(env)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      for (const problem of error.problems) problems.add(problem)
    }
  }
  return [...problems]
}

/** Values within each setting's own bounds that break `rule`, so only the rule can refuse them. */
function breakingValues(rule: ConfigRule): Map<Setting<unknown>, string | number> {
  switch (rule.kind) {
    case 'order': {
      const higher = rule.higher.default
      return new Map<Setting<unknown>, number>([
        [rule.lower, rule.strict ? higher : higher + 1],
        [rule.higher, higher],
      ])
    }
    case 'differ':
      return new Map([[rule.settings[1], rule.settings[0].default]])
    case 'requires': {
      const other = 'enum' in rule.needs.schema ? rule.needs.schema.enum.find((word) => word !== rule.to) : undefined
      if (other === undefined) throw new Error(`no value of ${rule.needs.env} breaks the rule`)
      return new Map([
        [rule.when, rule.is],
        [rule.needs, other],
      ])
    }
  }
}

// The rules the chart checks on `config` itself (generated into _config-rules.tpl): for each, values that break
// it are refused by the app at start and by the chart at install, in the same words.
const onConfig = configRules.filter((rule) => notOnConfig(rule) === undefined)

describe.skipIf(skipReason)(`chart config rules${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it("chart config rules - the chart checks the apps' rules on config (all but those about settings it sets itself or lacks)", () => {
    expect(onConfig.length).toBeGreaterThanOrEqual(6)
    for (const rule of configRules.filter((each) => !onConfig.includes(each))) expect(notOnConfig(rule)).toMatch(/sets|local mode only/)
  })

  it.each(onConfig.map((rule) => ({ rule, name: ruleMessage(rule, (setting) => setting.env) })))(
    'chart config rules - $name: the app refuses it at start, the chart at install, in the same words',
    async ({ rule }) => {
      const values = breakingValues(rule)
      const show = (setting: Setting<unknown>): string => String(values.get(setting) ?? setting.default)
      const env = Object.fromEntries([...values].map(([setting, value]) => [setting.env, String(value)]))
      expect(appProblems(env)).toEqual([ruleMessage(rule, (setting, withValue) => (withValue ? `${setting.env} (${show(setting)})` : setting.env))])

      const result = await helmTemplate({ set: [...values].map(([setting, value]) => `config.${setting.env}=${value}`) })
      expect(result.ok).toBe(false)
      expect(result.stderr).toContain('(1 problem)')
      expect(result.stderr).toContain(
        ruleMessage(rule, (setting, withValue) => (withValue ? `config.${setting.env} (${show(setting)})` : `config.${setting.env}`)),
      )
    },
  )

  // INGRESS_AUTH=api-key needs INGRESS_API_KEYS_FILE, which the chart sets from ingress.apiKeys: the chart
  // asks for that Secret instead, and with it the rendered ConfigMap satisfies the app.
  it('chart config rules - INGRESS_AUTH=api-key: the chart asks for the keys Secret, and with it the app gets its keys file', async () => {
    expect(appProblems({ INGRESS_AUTH: 'api-key' })).toEqual(['INGRESS_AUTH=api-key needs INGRESS_API_KEYS_FILE: the keys, one per line'])
    const refused = await helmTemplate({ set: ['config.INGRESS_AUTH=api-key'] })
    expect(refused.stderr).toContain('config.INGRESS_AUTH=api-key needs ingress.apiKeys.existingSecret')

    const objects = await renderChart({ set: ['config.INGRESS_AUTH=api-key', 'ingress.apiKeys.existingSecret=keys'] })
    const data = findObject(objects, 'ConfigMap', '-config').data as Record<string, string>
    expect(appProblems(data)).toEqual([])
  })

  // Each app stops within its exit bound (main.ts passes it to stopOnSignals); the chart refuses a grace period
  // that does not exceed it (after the ingress's preStop pause) and takes one second more.
  it.each(Object.keys(exitBounds) as (keyof typeof exitBounds)[])(
    'chart config rules - %s: the grace period must exceed the exit bound the app stops within',
    async (app) => {
      // Every setting of the bound away from its default, so a term left out of the chart's sum shows.
      const values = new Map(exitBounds[app].settings.map((setting) => [setting, setting.default + (setting.unit === 's' ? 3 : 7001)]))
      const set = [...values].map(([setting, value]) => `config.${setting.env}=${value}`)
      // The lease's renew deadline must stay below its duration and above the retry period.
      if (app === 'autoscaler') set.push('config.AUTOSCALER_LEASE_DURATION_SECONDS=60')
      const env = Object.fromEntries([...values].map(([setting, value]) => [setting.env, String(value)]))
      const loaders = { ingress: loadIngressConfig, worker: loadWorkerConfig, autoscaler: loadAutoscalerConfig }
      const boundSeconds = Math.ceil(exitBoundMs(exitBounds[app], loaders[app]({ ...env, AUTOSCALER_LEASE_DURATION_SECONDS: '60' })) / 1000)
      const { grace, beforeSigterm } = chartGrace[app]
      const pause = beforeSigterm ? 5 : 0
      if (beforeSigterm) set.push(`${beforeSigterm}=${pause}`)

      const refused = await helmTemplate({ set: [...set, `${grace}=${pause + boundSeconds}`] })
      expect(refused.ok).toBe(false)
      expect(refused.stderr).toContain('(1 problem)')
      expect(refused.stderr).toContain(`${grace} (${pause + boundSeconds}) must exceed`)
      expect(refused.stderr).toContain(`= ${pause + boundSeconds} s`)
      const accepted = await helmTemplate({ set: [...set, `${grace}=${pause + boundSeconds + 1}`] })
      expect(accepted.stderr).toBe('')
      expect(accepted.ok).toBe(true)
    },
  )
})
