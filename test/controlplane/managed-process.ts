import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'

/** How a managed process ended. */
export interface ProcessExit {
  /** Exit code, or null when a signal ended it. */
  code: number | null
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null
}

/** A server process of the control plane, in its own process group, with its output in a log file. */
export interface ManagedProcess {
  /** Short name used in errors, e.g. `kube-apiserver`. */
  readonly name: string
  /** Path of the file that receives the process's stdout and stderr. */
  readonly logPath: string
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<ProcessExit>
  /** The exit, once it happened (undefined while running). */
  exit(): ProcessExit | undefined
  /** The last `lines` lines of the log, for error messages. */
  logTail(lines?: number): string
  /**
   * Sends SIGTERM to the process group, then SIGKILL after `graceMs`; resolves once it has exited.
   * Idempotent: later calls return the same promise.
   */
  stop(graceMs?: number): Promise<void>
}

/** Options of {@link startManagedProcess}. */
export interface ManagedProcessOptions {
  name: string
  command: string
  args: readonly string[]
  /** File that receives stdout and stderr (created or truncated). */
  logPath: string
  /**
   * Path of sluice-orphan-guard: when set, the command runs under it, so it also stops if this Node
   * process is SIGKILLed (which no exit hook sees).
   */
  orphanGuard?: string
}

// Process groups still running, so a Node process that exits without close() does not leave them behind.
const liveGroups = new Set<number>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL')
  })
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: the group is already gone, which is what we want.
  }
}

/** Starts `command` detached in its own process group (so a stop reaches its children too). */
export function startManagedProcess(options: ManagedProcessOptions): ManagedProcess {
  const { name, logPath } = options
  const [command, args] = options.orphanGuard
    ? [options.orphanGuard, [options.command, ...options.args]]
    : [options.command, [...options.args]]
  const logFd = openSync(logPath, 'w')
  let child
  try {
    child = spawn(command, args, { detached: true, stdio: ['ignore', logFd, logFd] })
  } finally {
    closeSync(logFd)
  }
  const pid = child.pid
  let exitInfo: ProcessExit | undefined
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', () => {
      exitInfo ??= { code: 127, signal: null }
      resolve(exitInfo)
    })
    child.once('exit', (code, signal) => {
      exitInfo ??= { code, signal }
      if (pid !== undefined) liveGroups.delete(pid)
      resolve(exitInfo)
    })
  })
  if (pid !== undefined) {
    liveGroups.add(pid)
    installExitHook()
  }

  let stopping: Promise<void> | undefined
  const stop = (graceMs = 5_000): Promise<void> => {
    stopping ??= (async () => {
      if (pid === undefined || exitInfo) return
      killGroup(pid, 'SIGTERM')
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs)
      try {
        await exited
      } finally {
        clearTimeout(timer)
      }
      // The leader is gone; make sure nothing else in its group survived it.
      killGroup(pid, 'SIGKILL')
    })()
    return stopping
  }

  const logTail = (lines = 20): string => {
    try {
      return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }

  return { name, logPath, exited, exit: () => exitInfo, logTail, stop }
}
