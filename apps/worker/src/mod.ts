// Public surface of the worker workspace: the API for your own handlers (docs/your-own-jobs.md), and the
// Worker for tests and custom worker processes.
export { defineHandler, HandlerDefinitionError, handlerRegistry } from './handlers/define-handler.ts'
export { PermanentJobError, RetryLaterError, UnusableResultError } from './handlers/job-errors.ts'
export type { HandlerDefinition, HandlerRegistry, JobContext, JobHandler } from './handlers/job-handler.ts'
export { loadHandlersModule } from './handlers/handlers-module.ts'
export { builtinHandlerDefinitions, builtinHandlers } from './handlers/builtin-handlers.ts'
export { Worker } from './worker.ts'
export type { WorkerDependencies } from './worker.ts'
