import { pino, type Logger } from 'pino'
import type { LogConfig } from './config/load-config.ts'

/**
 * JSON logs on stdout, one line per event, with the process name in every line so `make dev`'s merged
 * output says who spoke. Secrets and job payloads are never passed to the logger.
 */
export function createLogger(name: string, config: LogConfig): Logger {
  return pino({
    name,
    level: config.level,
    base: { pid: process.pid, name },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
  })
}
