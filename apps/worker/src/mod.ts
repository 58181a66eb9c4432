// Public surface of the worker workspace, for tests and custom worker images with their own handlers.
export { Worker } from './worker.ts'
export type { WorkerDependencies } from './worker.ts'
export { builtinHandlers } from './handlers/builtin-handlers.ts'
export type { HandlerRegistry, JobContext, JobHandler } from './handlers/job-handler.ts'
