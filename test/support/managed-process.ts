import { spawn } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'

/** How a process ended. */
export interface ProcessExit {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null
  /** The signal that ended it, or null. */
  readonly signal: NodeJS.Signals | null
}

/** A child process in its own process group, with its output in a log file. */
export interface ManagedProcess {
  /** Short name used in errors, e.g. `nats-server`. */
  readonly name: string
  readonly pid: number
  /** File receiving stdout and stderr. */
  readonly logPath: string
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<ProcessExit>
  /** The exit, once it happened (undefined while running). */
  exit(): ProcessExit | undefined
  /** The whole log so far. */
  log(): string
  /** The last `lines` lines of the log, for error messages. */
  logTail(lines?: number): string
  /** Sends `signal` to the whole process group (SIGKILL, SIGSTOP, SIGCONT, ...). */
  signal(signal: NodeJS.Signals): void
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once exited. Idempotent. */
  stop(graceMs?: number): Promise<ProcessExit>
}

/** Options of {@link startManagedProcess}. */
export interface ManagedProcessOptions {
  readonly name: string
  readonly command: string
  readonly args: readonly string[]
  /** File that receives stdout and stderr (created or truncated). */
  readonly logPath: string
  /** Extra environment on top of this process's. */
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /**
   * Path of sluice-orphan-guard (test/controlplane/orphanguard): the command then runs under it, so it
   * also stops if this Node process is SIGKILLed, which no exit hook sees.
   */
  readonly orphanGuard?: string
}

// Groups still running, so a test process that exits without cleanup leaves nothing behind.
const liveGroups = new Set<number>()
let exitHookInstalled = false

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: already gone, which is what we want.
  }
}

/** Starts `command` detached in its own process group, so signals reach its children too. */
export function startManagedProcess(options: ManagedProcessOptions): ManagedProcess {
  const logStream = createWriteStream(options.logPath, { flags: 'w' })
  const [command, args] = options.orphanGuard ? [options.orphanGuard, [options.command, ...options.args]] : [options.command, [...options.args]]
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  })
  child.stdout?.pipe(logStream, { end: false })
  child.stderr?.pipe(logStream, { end: false })
  if (child.pid === undefined) throw new Error(`${options.name} did not start (${options.command})`)
  const pid = child.pid
  liveGroups.add(pid)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const group of liveGroups) killGroup(group, 'SIGKILL')
    })
  }
  let exitInfo: ProcessExit | undefined
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('close', (code, signal) => {
      exitInfo = { code, signal }
      liveGroups.delete(pid)
      logStream.end()
      resolve(exitInfo)
    })
  })
  const log = (): string => {
    try {
      return readFileSync(options.logPath, 'utf8')
    } catch {
      return ''
    }
  }
  let stopping: Promise<ProcessExit> | undefined
  return {
    name: options.name,
    pid,
    logPath: options.logPath,
    exited,
    exit: () => exitInfo,
    log,
    logTail: (lines = 20) => log().trimEnd().split('\n').slice(-lines).join('\n'),
    signal: (signal) => {
      if (!exitInfo) killGroup(pid, signal)
    },
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        if (exitInfo) return exitInfo
        killGroup(pid, 'SIGCONT')
        killGroup(pid, 'SIGTERM')
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs)
        try {
          return await exited
        } finally {
          clearTimeout(timer)
          killGroup(pid, 'SIGKILL')
        }
      })()
      return stopping
    },
  }
}
