import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { eventually } from './eventually.ts'
import { freePort } from './free-port.ts'
import { startManagedProcess, type ManagedProcess } from './managed-process.ts'
import type { Env } from './queue-env.ts'
import { repoRoot } from './repo-paths.ts'
import { parse } from 'yaml'

/** An app running as its own process, as in production. */
export interface AppProcess extends ManagedProcess {
  /** Base URL of its HTTP port (the API for the ingress, health and metrics for a worker). */
  readonly baseUrl: string
  /** Waits until a log line matches `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>
}

/** The ingress's NODE_OPTIONS as charts/sluice/values.yaml ships them (`ingress.nodeOptions`). */
export function chartIngressNodeOptions(): string {
  const values = parse(readFileSync(join(repoRoot, 'charts', 'sluice', 'values.yaml'), 'utf8')) as { ingress: { nodeOptions?: string } }
  return values.ingress.nodeOptions ?? ''
}

const logDir = mkdtempSync(join(tmpdir(), 'sluice-apps-'))
let started = 0

/**
 * Starts `apps/<app>/src/main.ts` (or another `entry` that wires the app, such as a worker with test
 * handlers) with `env` and waits up to `readyTimeoutMs` for `/readyz`. Logs at `logLevel` (tests read them).
 */
export async function startApp(
  app: 'ingress' | 'worker',
  env: Env,
  logLevel = 'info',
  readyTimeoutMs = 20_000,
  entry = join(repoRoot, 'apps', app, 'src', 'main.ts'),
): Promise<AppProcess> {
  const port = await freePort()
  const portEnv = app === 'ingress' ? { PORT: String(port), HOST: '127.0.0.1', INGRESS_OPS_PORT: '0' } : { WORKER_PORT: String(port), WORKER_HOST: '127.0.0.1' }
  // The ingress runs with the heap bounds the Helm chart ships, unless `env` says otherwise.
  const shipped = app === 'ingress' ? { NODE_OPTIONS: chartIngressNodeOptions() } : {}
  const child = startManagedProcess({
    name: app,
    command: process.execPath,
    args: [entry],
    logPath: join(logDir, `${app}-${++started}.log`),
    // Tests read these logs ("processing user job: <id>, started"), so the level is set here, not by `env`.
    env: { ...shipped, ...env, ...portEnv, LOG_LEVEL: logLevel },
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
  // Polled by hand rather than with `eventually`, so a process that exits stops the wait at once.
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    const exit = child.exit()
    if (exit) throw new Error(`${app} exited early (${exit.signal ?? exit.code}):\n${child.logTail(30)}`)
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await child.stop()
      throw new Error(`${app} did not become ready:\n${child.logTail(30)}`)
    }
    await sleep(50)
  }
  return process_
}

/** Starts the autoscaler (`apps/autoscaler/src/main.ts`) as its own process with exactly `env`. */
export function startAutoscalerProcess(env: Env): ManagedProcess {
  return startManagedProcess({
    name: 'autoscaler',
    command: process.execPath,
    args: [join(repoRoot, 'apps', 'autoscaler', 'src', 'main.ts')],
    logPath: join(logDir, `autoscaler-${++started}.log`),
    env,
    cwd: repoRoot,
  })
}
