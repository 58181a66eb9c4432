import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { helmSkipReason, renderChart, type TemplateOptions } from './helm.ts'
import { podOwners } from './pod-specs.ts'

const skipReason = helmSkipReason()

/** The GOMEMLIMIT the built-in NATS server gets with `options`; undefined when it gets none. */
async function goMemLimit(options: TemplateOptions): Promise<string | undefined> {
  const statefulSet = podOwners(await renderChart(options)).find(({ object }) => object.kind === 'StatefulSet' && object.metadata.name.endsWith('-nats'))
  const containers = statefulSet?.podSpec.containers ?? []
  return containers.find((container) => container.name === 'nats')?.env?.find((variable) => variable.name === 'GOMEMLIMIT')?.value
}

describe.skipIf(skipReason)(`chart nats memory${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const valuesDir = mkdtempSync(join(tmpdir(), 'sluice-chart-nats-memory-'))
  afterAll(() => rmSync(valuesDir, { recursive: true, force: true }))

  it('chart nats memory - the default 1Gi limit gives nats-server a GOMEMLIMIT of 90 % of it, in bytes', async () => {
    expect(await goMemLimit({})).toBe(String(Math.floor(0.9 * 1024 ** 3)))
  })

  it('chart nats memory - every unit a Kubernetes quantity may have, and plain bytes, are read', async () => {
    const cases: Record<string, number> = {
      '512Mi': 512 * 1024 ** 2,
      '1.5Gi': 1.5 * 1024 ** 3,
      '2G': 2e9,
      '3000000000': 3e9,
      '4000000k': 4e9,
      '1Ti': 1024 ** 4,
    }
    for (const [limit, bytes] of Object.entries(cases)) {
      expect(await goMemLimit({ set: [`nats.builtin.resources.limits.memory=${limit}`] }), limit).toBe(String(Math.floor(0.9 * bytes)))
    }
  })

  it('chart nats memory - a limit written as a YAML number of bytes is read as such', async () => {
    // A values file's number reaches the template as a float (1.073741824e+09 when printed), not a string.
    const file = join(valuesDir, 'number-values.yaml')
    writeFileSync(file, 'nats:\n  builtin:\n    resources:\n      limits:\n        memory: 1073741824\n')
    expect(await goMemLimit({ valuesFiles: [file] })).toBe(String(Math.floor(0.9 * 1024 ** 3)))
  })

  it('chart nats memory - no memory limit, or one of 0, sets no GOMEMLIMIT (0 would make Go collect without pause)', async () => {
    const file = join(valuesDir, 'no-limit-values.yaml')
    writeFileSync(file, 'nats:\n  builtin:\n    resources:\n      limits: null\n')
    expect(await goMemLimit({ valuesFiles: [file] })).toBeUndefined()
    expect(await goMemLimit({ set: ['nats.builtin.resources.limits.memory=0'] })).toBeUndefined()
    expect(await goMemLimit({ set: ['nats.builtin.resources.limits.memory=1m'] })).toBeUndefined()
  })
})
