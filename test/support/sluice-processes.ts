import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from './eventually.ts'
import { freePort } from './free-port.ts'
import { startManagedProcess, type ManagedProcess } from './managed-process.ts'
import type { Env } from './queue-env.ts'
import { repoRoot } from './repo-paths.ts'

/** An app running as its own process, as in production. */
export interface AppProcess extends ManagedProcess {
  /** Base URL of its HTTP port (the API for the ingress, health and metrics for a worker). */
  readonly baseUrl: string
  /** Waits until a log line matches `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>
}

const logDir = mkdtempSync(join(tmpdir(), 'sluice-apps-'))
let started = 0

/** Starts `apps/<app>/src/main.ts` with `env` and waits for `/readyz`. Logs at `logLevel` (tests read them). */
export async function startApp(app: 'ingress' | 'worker', env: Env, logLevel = 'info'): Promise<AppProcess> {
  const port = await freePort()
  const portEnv = app === 'ingress' ? { PORT: String(port), HOST: '127.0.0.1' } : { WORKER_PORT: String(port), WORKER_HOST: '127.0.0.1' }
  const child = startManagedProcess({
    name: app,
    command: process.execPath,
    args: [join(repoRoot, 'apps', app, 'src', 'main.ts')],
    logPath: join(logDir, `${app}-${++started}.log`),
    // Tests read these logs ("processing user: ... started"), so the level is set here, not by `env`.
    env: { ...env, ...portEnv, LOG_LEVEL: logLevel },
    cwd: repoRoot,
  })
  const baseUrl = `http://127.0.0.1:${port}`
  const process_: AppProcess = {
    ...child,
    baseUrl,
    waitForLog: async (pattern, timeoutMs = 20_000) => {
      await eventually(`${app} to log ${pattern}`, () => (pattern.test(child.log()) ? true : undefined), timeoutMs)
    },
  }
  try {
    await eventually(`${app} to be ready`, async () => {
      if (child.exit()) throw new Error(`${app} exited early: ${child.logTail()}`)
      const response = await fetch(`${baseUrl}/readyz`)
      return response.ok ? true : undefined
    })
  } catch (error) {
    await child.stop()
    throw new Error(`${app} did not become ready:\n${child.logTail(30)}`, { cause: error })
  }
  return process_
}
