import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { relayLines } from './line-relay.ts'

/** Where local mode's replicas go: anything that can report and change how many run. */
export interface LocalScaleTarget {
  /** Replicas running now (stopping ones excluded). */
  replicas(): number
  /** Starts or stops replicas until `replicas` run. */
  scale(replicas: number): void
  /** Stops every replica, waiting at most the drain bound. Idempotent. */
  close(): Promise<void>
}

/** Options of {@link WorkerProcesses}. */
export interface WorkerProcessesOptions {
  readonly logger: Logger
  /** Environment of each worker (WORKER_PORT is set per worker on top). */
  readonly env: NodeJS.ProcessEnv
  /** Health port of worker 1; worker n gets this + n - 1. 0: each picks a free port. */
  readonly firstPort: number
  /**
   * On scale-down, how long a worker may drain before SIGKILL, in ms. A safety net only: the worker bounds
   * its own drain (WORKER_DRAIN_MS) and exits.
   * @default 60000
   */
  readonly drainTimeoutMs?: number
  /** On close(), how long workers may drain before SIGKILL, in ms: the process's own stop is bounded. */
  readonly closeTimeoutMs: number
  /** Where worker output goes, each line prefixed `[worker-<n>] `. @default process.stdout */
  readonly out?: NodeJS.WritableStream
  /** The worker entry point. @default apps/worker/src/main.ts */
  readonly entryPoint?: string
}

interface Slot {
  readonly slot: number
  readonly child: ChildProcess
  readonly exited: Promise<void>
  stopping: boolean
}

/**
 * Worker processes on this machine as a scale target: scale-up spawns `node apps/worker/src/main.ts` in the
 * lowest free slot (so ports stay distinct and reused), scale-down sends SIGTERM to the highest slots so they
 * drain (hand back unstarted jobs, finish running ones) and SIGKILLs them only past the drain bound.
 */
export class WorkerProcesses implements LocalScaleTarget {
  readonly #options: WorkerProcessesOptions
  readonly #slots = new Map<number, Slot>()
  #closing: Promise<void> | undefined

  constructor(options: WorkerProcessesOptions) {
    this.#options = options
  }

  /** Pids of the running (not stopping) workers, by slot; for tests and logs. */
  pids(): number[] {
    return [...this.#slots.values()].filter((slot) => !slot.stopping).map((slot) => slot.child.pid ?? -1)
  }

  replicas(): number {
    return [...this.#slots.values()].filter((slot) => !slot.stopping).length
  }

  scale(replicas: number): void {
    if (this.#closing) return
    while (this.replicas() < replicas) this.#start(this.#freeSlot())
    const running = [...this.#slots.values()].filter((slot) => !slot.stopping).sort((a, b) => b.slot - a.slot)
    for (const slot of running.slice(0, Math.max(0, running.length - replicas))) this.#stop(slot, this.#options.drainTimeoutMs ?? 60_000)
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const all = [...this.#slots.values()]
      for (const slot of all) this.#stop(slot, this.#options.closeTimeoutMs)
      await Promise.all(all.map((slot) => slot.exited))
    })()
    return this.#closing
  }

  #freeSlot(): number {
    let slot = 1
    // A stopping worker still holds its port until it exits.
    while (this.#slots.has(slot)) slot++
    return slot
  }

  #start(slot: number): void {
    const { firstPort, env, logger } = this.#options
    const entryPoint = this.#options.entryPoint ?? join(import.meta.dirname, '..', '..', '..', 'worker', 'src', 'main.ts')
    const port = firstPort === 0 ? 0 : firstPort + slot - 1
    const child = spawn(process.execPath, [entryPoint], { env: { ...env, WORKER_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
    const name = `worker-${slot}`
    const out = this.#options.out ?? process.stdout
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) relayLines(stream, `[${name}] `, (text) => out.write(text))
    }
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#slots.delete(slot)
        const entry = { worker: name, pid: child.pid, code, signal }
        if (stopping()) logger.info(entry, 'worker stopped')
        else logger.warn(entry, 'worker exited on its own; the next poll replaces it')
        resolve()
      })
      child.once('error', (error) => logger.error({ err: error, worker: name }, 'worker could not start'))
    })
    const record: Slot = { slot, child, exited, stopping: false }
    const stopping = (): boolean => record.stopping
    this.#slots.set(slot, record)
    logger.info({ worker: name, pid: child.pid, port }, 'worker started')
  }

  #stop(slot: Slot, killAfterMs: number): void {
    // A worker already draining gets the shorter bound when we are closing.
    if (!slot.stopping) slot.child.kill('SIGTERM')
    slot.stopping = true
    const timer = setTimeout(() => slot.child.kill('SIGKILL'), killAfterMs)
    timer.unref()
    void slot.exited.then(() => clearTimeout(timer))
  }
}
