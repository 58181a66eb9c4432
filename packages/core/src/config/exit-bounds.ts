import type { Setting } from './settings.ts'
import { allSettingGroups, autoscalerSettings, ingressSettings, workerSettings } from './sluice-settings.ts'

/**
 * The longest a process takes to exit after SIGTERM: the sum of some of its settings (each in ms or s, as its
 * unit says) plus a margin. Each app's main.ts stops within it, and the chart's validateValues (generated from
 * these by `make docs`) asks for a longer grace period, so Kubernetes never kills a process still draining.
 */
export interface ExitBound {
  /** Settings whose values add up. */
  readonly settings: readonly Setting<number>[]
  /** Added to them, ms. */
  readonly marginMs: number
  /** What the margin covers, for the reader. */
  readonly margin?: string
}

/** Each app's exit bound. */
export const exitBounds = {
  ingress: { settings: [ingressSettings.drainMs], marginMs: 0 },
  worker: { settings: [workerSettings.drainMs], marginMs: 5000, margin: 'closing the NATS connection after the jobs' },
  autoscaler: {
    settings: [autoscalerSettings.shutdownMs, autoscalerSettings.renewDeadlineSeconds],
    marginMs: 2000,
    margin: 'releasing the Lease after the last renewal',
  },
} as const satisfies Record<string, ExitBound>

/** Milliseconds in one unit of a setting's value. */
export function msPerUnit(setting: Setting<number>): number {
  if (setting.unit === 'ms') return 1
  if (setting.unit === 's') return 1000
  throw new Error(`${setting.env} is in ${setting.unit}, not a duration`)
}

/** The bound in ms for a loaded configuration (any app's, holding the groups the bound names). */
export function exitBoundMs(bound: ExitBound, config: object): number {
  let total = bound.marginMs
  for (const setting of bound.settings) total += valueIn(config, setting) * msPerUnit(setting)
  return total
}

function valueIn(config: object, setting: Setting<number>): number {
  for (const [group, settings] of Object.entries(allSettingGroups)) {
    for (const [key, candidate] of Object.entries(settings)) {
      if (candidate !== setting) continue
      const value = (config as Record<string, Record<string, unknown> | undefined>)[group]?.[key]
      if (typeof value !== 'number') throw new Error(`the configuration lacks ${setting.env}`)
      return value
    }
  }
  throw new Error(`${setting.env} is not in any setting group`)
}
