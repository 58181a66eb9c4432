import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
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
