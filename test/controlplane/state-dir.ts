import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const prefix = 'sluice-controlplane-'
const ownerFile = 'owner.pid'
// A folder without an owner file is only trusted as "just created" for this long, in milliseconds.
const ownerlessGraceMs = 10 * 60_000

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: alive but someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A new temporary state folder, stamped with this process's pid so a later sweep knows when it is abandoned. */
export async function createStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await writeFile(join(dir, ownerFile), `${process.pid}\n`)
  return dir
}

/**
 * Removes state folders whose owner process is gone: close() removes its own folder, but a test process
 * that was SIGKILLed cannot, and each folder holds etcd's preallocated WAL (about 60 MiB). Its servers
 * are already stopped by sluice-orphan-guard. Best effort: errors are ignored.
 */
export async function sweepAbandonedStateDirs(): Promise<void> {
  let entries: string[]
  try {
    entries = (await readdir(tmpdir())).filter((name) => name.startsWith(prefix))
  } catch {
    return
  }
  await Promise.all(
    entries.map(async (name) => {
      const dir = join(tmpdir(), name)
      try {
        const owner = Number.parseInt(await readFile(join(dir, ownerFile), 'utf8').catch(() => ''), 10)
        const abandoned = Number.isInteger(owner) ? !isAlive(owner) : Date.now() - (await stat(dir)).mtimeMs > ownerlessGraceMs
        if (abandoned) await rm(dir, { recursive: true, force: true })
      } catch {
        // Another process may be sweeping the same folder.
      }
    }),
  )
}
