import { defineHandler, handlerRegistry } from './define-handler.ts'
import type { HandlerDefinition, HandlerRegistry } from './job-handler.ts'
import { userHandler } from './user-handler.ts'

/** Does nothing: for measuring the queue itself (`make bench`) and smoke tests. */
const noopHandler = defineHandler('noop', async () => {})

/** The handlers a stock worker runs, defined like any others: `user` (the seed's job) and `noop`. */
export function builtinHandlerDefinitions(options: { jobDurationMs: number }): HandlerDefinition[] {
  return [userHandler(options.jobDurationMs), noopHandler]
}

/** The built-in handlers as a registry. */
export function builtinHandlers(options: { jobDurationMs: number }): HandlerRegistry {
  return handlerRegistry(builtinHandlerDefinitions(options))
}
