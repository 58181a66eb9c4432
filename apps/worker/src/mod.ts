// Public surface of the worker workspace: the API for your own handlers (docs/your-own-jobs.md), and the
// Worker for tests and custom worker processes.
export { defineHandler, HandlerDefinitionError, handlerRegistry } from './handlers/define-handler.ts'
export { PermanentJobError, RetryLaterError, UnusableResultError } from './handlers/job-errors.ts'
export type { HandlerDefinition, HandlerRegistry, JobContext, JobHandler } from './handlers/job-handler.ts'
export { loadHandlersModule } from './handlers/handlers-module.ts'
export { builtinHandlerDefinitions, builtinHandlers } from './handlers/builtin-handlers.ts'
export { PushEndpoint, PushFailedError } from './http-push/push-endpoint.ts'
export type { PushOptions } from './http-push/push-endpoint.ts'
export { pushHandlers } from './http-push/push-handlers.ts'
export type { PushHandlers } from './http-push/push-handlers.ts'
export { SIGNATURE_HEADER, signatureHeaders, TIMESTAMP_HEADER } from '@sluice/core'
export { Worker } from './worker.ts'
export type { WorkerDependencies } from './worker.ts'
