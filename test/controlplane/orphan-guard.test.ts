import { spawn } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import { defaultBinDir, missingBinaries, whyBinariesCannotBeBuilt } from './binaries.ts'
import { eventually } from '../support/eventually.ts'
import { processesMentioning } from './processes-mentioning.ts'

const guardMissing = missingBinaries().includes('sluice-orphan-guard')
const whyNot = guardMissing ? whyBinariesCannotBeBuilt() : undefined
const skipReason = whyNot ? `sluice-orphan-guard missing in ${defaultBinDir} and ${whyNot}` : undefined
if (skipReason) console.warn(`skipping the orphan guard suite: ${skipReason}`)

describe.skipIf(skipReason !== undefined)(skipReason ? `controlplane (skipped: ${skipReason})` : 'controlplane', () => {
  test('controlplane - the orphan guard stops its command when the process that started it is killed', async () => {
    // A unique duration makes the sleep findable in /proc; GNU sleep takes fractions.
    const marker = `600.${process.pid}${Date.now() % 1_000_000}`
    const guard = `${defaultBinDir}/sluice-orphan-guard`
    // The marker goes through the environment so that only the guard and the sleep carry it in argv.
    const script = `require('node:child_process').spawn(${JSON.stringify(guard)}, ['sleep', process.env.MARKER], { stdio: 'ignore' });setInterval(() => {}, 1000)`
    const starter = spawn(process.execPath, ['-e', script], { stdio: 'ignore', env: { ...process.env, MARKER: marker } })
    try {
      // The guard and its sleep both carry the marker.
      await eventually('the guarded sleep to start', async () => (processesMentioning(marker).length === 2 ? true : undefined), { timeoutMs: 10_000 })
      // SIGKILL: no exit hook runs, only the guard can notice.
      starter.kill('SIGKILL')
      await eventually('the guarded sleep to stop', async () => (processesMentioning(marker).length === 0 ? true : undefined), { timeoutMs: 10_000 })
    } finally {
      starter.kill('SIGKILL')
    }
    expect(processesMentioning(marker)).toEqual([])
  })
})
