import type { Logger } from 'pino'
import { SluiceError } from './errors.ts'

/**
 * Parses configuration or exits with status 2 and every problem on stderr: a bad deploy should say what is
 * wrong in one line per setting, not in a stack trace.
 */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load()
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`)
    process.exit(2)
  }
}

/**
 * Runs a process's start-up; on failure logs why (our errors by code and message, others with their
 * stack) and exits with status 1, so Kubernetes shows a clear reason in the pod's last log line.
 */
export async function startOrExit<T>(logger: Logger, start: () => Promise<T>): Promise<T> {
  try {
    return await start()
  } catch (error) {
    if (error instanceof SluiceError) logger.fatal({ code: error.code }, error.message)
    else logger.fatal({ err: error }, 'start-up failed')
    process.exit(1)
  }
}

/**
 * On the first SIGTERM or SIGINT: logs it, runs `stop` and exits 0. If `stop` takes longer than
 * `boundMs` (or throws), exits 1 instead, so a stuck drain can never outlive the pod's grace period.
 */
export function stopOnSignals(logger: Logger, boundMs: number, stop: () => Promise<void>): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal, boundMs }, 'shutting down')
    const deadline = setTimeout(() => {
      logger.error({ boundMs }, 'shutdown took too long; exiting')
      process.exit(1)
    }, boundMs)
    deadline.unref()
    stop().then(
      () => {
        logger.info('stopped')
        process.exit(0)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
}
