import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { createStateDir, sweepAbandonedStateDirs } from './state-dir.ts'

describe('controlplane', () => {
  test('controlplane - a state folder is swept once its owner process is gone, and kept while it lives', async () => {
    const ours = await createStateDir()
    const abandoned = await createStateDir()
    try {
      // The pid of a process that has already exited stands in for a SIGKILLed test run.
      const deadPid = spawnSync('true').pid
      await writeFile(join(abandoned, 'owner.pid'), `${deadPid}\n`)
      await sweepAbandonedStateDirs()
      expect(existsSync(abandoned)).toBe(false)
      expect(existsSync(ours)).toBe(true)
    } finally {
      await rm(ours, { recursive: true, force: true })
      await rm(abandoned, { recursive: true, force: true })
    }
  })
})
