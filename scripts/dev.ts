// `make dev`: nats-server, the ingress and the autoscaler in local mode (which starts and stops worker
// processes with the backlog) on this machine, with merged readable logs. `AUTOSCALE=off` runs a fixed
// `WORKERS` count instead. Ctrl-C or SIGTERM stops everything it started, letting running jobs finish.
//
// The apps read their settings from the environment, except what this script sets for them: NATS_URL (from
// NATS_PORT), HOST, WORKER_HOST and AUTOSCALER_HOST (127.0.0.1 unless set), PORT for the ingress, AUTOSCALER_MODE=local and AUTOSCALER_PORT for the autoscaler, WORKER_PORT
// for each worker (AUTOSCALE_WORKER_FIRST_PORT + n - 1, in both modes), and AUTOSCALER_SHUTDOWN_MS unless set
// (see workerExitMs). NATS_PORT, NATS_MONITOR_PORT, NATS_STORE_DIR, WORKERS and AUTOSCALE are this script's own.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { exitBounds, msPerUnit, type ExitBound } from '@sluice/core'
import { devListenHosts } from './dev/listen-hosts.ts'
import { prefixLines } from './dev/log-lines.ts'

const root = join(import.meta.dirname, '..')
const natsPort = Number(process.env.NATS_PORT ?? 4222)
const natsMonitorPort = Number(process.env.NATS_MONITOR_PORT ?? 8222)
const ingressPort = Number(process.env.PORT ?? 8080)
const workerCount = Number(process.env.WORKERS ?? 2)
const firstWorkerPort = Number(process.env.AUTOSCALE_WORKER_FIRST_PORT ?? 8091)
const autoscale = (process.env.AUTOSCALE ?? 'on') !== 'off'
const autoscalerPort = Number(process.env.AUTOSCALER_PORT ?? 8082)
const natsBinary = process.env.NATS_SERVER_BIN ?? 'nats-server'
const storeDir = process.env.NATS_STORE_DIR ?? join(root, '.data', 'nats')

/** A process's exit bound (exit-bounds.ts) for the settings in this environment, ms. */
function exitMs(bound: ExitBound, env: NodeJS.ProcessEnv = process.env): number {
  let total = bound.marginMs
  for (const setting of bound.settings) total += Number(env[setting.env] ?? setting.default) * msPerUnit(setting)
  return total
}

// The local autoscaler SIGKILLs its workers AUTOSCALER_SHUTDOWN_MS after asking them to stop. Its default
// (10 s) is shorter than a worker's drain (WORKER_DRAIN_MS, 25 s), so dev gives it a worker's whole exit
// bound: on Ctrl-C running jobs finish, or are handed back, instead of being killed mid-run.
const workerExitMs = exitMs(exitBounds.worker)
const autoscalerEnv = { AUTOSCALER_SHUTDOWN_MS: process.env.AUTOSCALER_SHUTDOWN_MS ?? String(workerExitMs) }
// A child still running this long after SIGTERM is past its own bound: it is killed, so nothing is left behind.
const KILL_MARGIN_MS = 5000
const killAfterMs = Math.max(exitMs(exitBounds.ingress), workerExitMs, exitMs(exitBounds.autoscaler, { ...process.env, ...autoscalerEnv })) + KILL_MARGIN_MS

const children: { name: string; child: ChildProcess }[] = []
let stopping = false

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // Own process groups: a terminal's Ctrl-C reaches only this script, which stops the apps before NATS.
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  prefixLines(name, child.stdout!)
  prefixLines(name, child.stderr!)
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[dev] ${name} exited (${signal ?? code}); stopping everything`)
      void stopAll(1)
    }
  })
  children.push({ name, child })
  return child
}

async function waitFor(what: string, url: string, timeoutMs = 30_000): Promise<void> {
  await waitUntil(`${what} at ${url}`, async () => (await fetch(url)).ok, timeoutMs)
}

async function waitUntil(what: string, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !stopping) {
    try {
      if (await ready()) return
    } catch {
      // Not up yet.
    }
    await sleep(100)
  }
  if (!stopping) throw new Error(`${what} did not become ready`)
}

/** Whether a worker is pulling: the workers' consumer has a waiting pull request (NATS monitoring, /jsz). */
async function workerPulling(): Promise<boolean> {
  const stream = process.env.QUEUE_STREAM ?? 'JOBS'
  const consumer = process.env.QUEUE_CONSUMER ?? 'workers'
  const jsz = (await (await fetch(`http://127.0.0.1:${natsMonitorPort}/jsz?consumers=true`)).json()) as {
    account_details?: { stream_detail?: { name: string; consumer_detail?: { name: string; num_waiting: number }[] }[] }[]
  }
  const streams = (jsz.account_details ?? []).flatMap((account) => account.stream_detail ?? [])
  const consumers = streams.filter(({ name }) => name === stream).flatMap((detail) => detail.consumer_detail ?? [])
  return consumers.some(({ name, num_waiting }) => name === consumer && num_waiting > 0)
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  // Apps first (they drain into NATS), NATS last.
  const apps = children.filter(({ name }) => name !== 'nats')
  for (const { child } of apps) child.kill('SIGTERM')
  await Promise.all(apps.map(({ child }) => exited(child)))
  const nats = children.find(({ name }) => name === 'nats')
  nats?.child.kill('SIGTERM')
  if (nats) await exited(nats.child)
  process.exit(code)
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }, killAfterMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

process.on('SIGINT', () => void stopAll(0))
process.on('SIGTERM', () => void stopAll(0))
// Last resort if this script dies some other way: leave no child behind. Each child leads its own process
// group, which also holds the autoscaler's worker processes, so the whole group goes.
process.on('exit', () => {
  for (const { child } of children) {
    if (child.pid === undefined) continue
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
})

mkdirSync(storeDir, { recursive: true })
const natsUrl = `nats://127.0.0.1:${natsPort}`
start('nats', natsBinary, ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-m', String(natsMonitorPort), '-sd', storeDir, '-n', 'sluice-dev'])
await waitFor('nats-server', `http://127.0.0.1:${natsMonitorPort}/healthz?js-enabled-only=true`)

const appEnv = { NATS_URL: natsUrl, ...devListenHosts(process.env) }
start('ingress', process.execPath, ['apps/ingress/src/main.ts'], { ...appEnv, PORT: String(ingressPort) })
await waitFor('ingress', `http://127.0.0.1:${ingressPort}/readyz`)
if (autoscale) {
  // Worker output reaches us through the autoscaler as `[worker-<n>] <line>`; log-lines shows it as [worker-<n>].
  start('autoscaler', process.execPath, ['apps/autoscaler/src/main.ts'], {
    ...appEnv,
    AUTOSCALER_MODE: 'local',
    ...autoscalerEnv,
    AUTOSCALER_PORT: String(autoscalerPort),
    AUTOSCALE_WORKER_FIRST_PORT: String(firstWorkerPort),
  })
  await waitFor('autoscaler', `http://127.0.0.1:${autoscalerPort}/healthz`)
  console.log(`[dev] autoscaler: workers follow the backlog; metrics at http://localhost:${autoscalerPort}/metrics`)
} else {
  for (let i = 1; i <= workerCount; i++) {
    start(`worker-${i}`, process.execPath, ['apps/worker/src/main.ts'], { ...appEnv, WORKER_PORT: String(firstWorkerPort === 0 ? 0 : firstWorkerPort + i - 1) })
  }
}
// "ready" means a job sent now starts at once, unless no worker is meant to run until there is a backlog.
const firstWorkerExpected = autoscale ? Number(process.env.AUTOSCALE_MIN_REPLICAS ?? 1) > 0 : workerCount > 0
if (firstWorkerExpected) await waitUntil('a worker pulling jobs', workerPulling)
console.log(`[dev] ready: curl "http://localhost:${ingressPort}/?user_id=1"  (Ctrl-C stops everything)`)
