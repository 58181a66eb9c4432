import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { isExecutable, pinnedVersion, repoRoot } from './repo-paths.ts'

const run = promisify(execFile)

/**
 * The schemathesis CLI: `SCHEMATHESIS_BIN` when set, else the pinned one `make schemathesis-tool`
 * installs into `.tools/schemathesis`. Never an `st` from PATH, which may be another tool or version.
 */
export function locateSchemathesis(): string | undefined {
  const candidates = [process.env.SCHEMATHESIS_BIN, join(repoRoot, '.tools', 'schemathesis', 'bin', 'st')]
  return candidates.find((path): path is string => path !== undefined && path !== '' && isExecutable(path))
}

/**
 * Why the schemathesis suite is skipped here, or undefined when it runs. It runs whenever the tool is
 * present; without it, it is skipped only outside CI: with `CI` set a missing tool fails the suite, so a
 * CI image without it cannot pass silently.
 */
export function schemathesisSkipReason(): string | undefined {
  if (locateSchemathesis() || isCi()) return undefined
  return 'schemathesis is not installed: `make schemathesis-tool` installs it into .tools/schemathesis (Python 3 venv)'
}

function isCi(): boolean {
  const ci = process.env.CI
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0'
}

/** The outcome of one schemathesis run. */
export interface SchemathesisRun {
  readonly ok: boolean
  /** Its report (stdout and stderr), to show when it failed. */
  readonly output: string
  readonly seconds: number
}

/**
 * `st run <schemaUrl> <args>` in a scratch directory (it writes `.schemathesis/` where it runs), killed
 * after `timeoutMs`. Fails at once, naming the fix, when the tool is missing or not the pinned version.
 */
export async function runSchemathesis(schemaUrl: string, args: readonly string[], timeoutMs: number): Promise<SchemathesisRun> {
  const bin = locateSchemathesis()
  if (!bin) throw new Error('schemathesis is not installed (CI is set, so this fails rather than skips): run `make schemathesis-tool`')
  const pinned = pinnedVersion('SCHEMATHESIS_VERSION')
  const { stdout: version } = await run(bin, ['--version'])
  if (!version.includes(`version ${pinned}`)) throw new Error(`${bin} is ${version.trim()}, not the pinned ${pinned}: run \`make schemathesis-tool\``)
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-schemathesis-'))
  const started = performance.now()
  try {
    const { stdout, stderr } = await run(bin, ['run', schemaUrl, ...args], {
      cwd,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
      // Hooks for what the document cannot state (schemathesis_hooks.py).
      env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_HOOKS: 'schemathesis_hooks', PYTHONPATH: join(repoRoot, 'test', 'support') },
    })
    return { ok: true, output: `${stdout}${stderr}`, seconds: (performance.now() - started) / 1000 }
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; killed?: boolean }
    const note = failed.killed ? `\n(killed after ${timeoutMs} ms)` : ''
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? String(error)}${note}`, seconds: (performance.now() - started) / 1000 }
  } finally {
    rmSync(cwd, { recursive: true, force: true })
  }
}
