import type { HandlerRegistry, JobHandler } from './job-handler.ts'
import { userHandler } from './user-handler.ts'

/** Does nothing: for measuring the queue itself (`make bench`) and smoke tests. */
const noopHandler: JobHandler = async () => {}

/** The handlers a stock worker runs: `user` (the seed's job) and `noop`. */
export function builtinHandlers(options: { jobDurationMs: number }): HandlerRegistry {
  return new Map<string, JobHandler>([
    ['user', userHandler(options.jobDurationMs)],
    ['noop', noopHandler],
  ])
}
