import { accessSync, constants, readFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** A pinned version from tools/versions.env (the one place versions are named). */
export function pinnedVersion(name: string): string {
  const line = readFileSync(join(repoRoot, 'tools', 'versions.env'), 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}=`))
  if (!line) throw new Error(`${name} is not pinned in tools/versions.env`)
  return line.slice(name.length + 1).trim()
}

/** Whether `path` is an executable file. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * A tool's executable: the path in `envVar` when set, else the pinned build in `.tools/bin` (the Makefile
 * puts it there), else the first `name` on PATH.
 */
export function findExecutable(envVar: string, name: string): string | undefined {
  const candidates = [
    process.env[envVar],
    join(repoRoot, '.tools', 'bin', name),
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, name)),
  ]
  return candidates.find((path): path is string => path !== undefined && path !== '' && isExecutable(path))
}

/**
 * sluice-orphan-guard (built with the control plane tools), when present: servers started under it stop
 * even if the test process that started them is SIGKILLed, which no exit hook sees.
 */
export function orphanGuard(): { orphanGuard?: string } {
  const guard = findExecutable('SLUICE_ORPHAN_GUARD', 'sluice-orphan-guard')
  return guard ? { orphanGuard: guard } : {}
}
