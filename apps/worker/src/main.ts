import { connectNats, createLogger, exitBoundMs, exitBounds, loadConfigOrExit, loadJobTypes, loadWorkerConfig, startOrExit, stopOnSignals } from '@sluice/core'
import { builtinHandlerDefinitions } from './handlers/builtin-handlers.ts'
import { handlerRegistry } from './handlers/define-handler.ts'
import { loadHandlersModule } from './handlers/handlers-module.ts'
import { pushHandlers } from './http-push/push-handlers.ts'
import { Worker } from './worker.ts'

// Wires the process: config, the handlers (a module's or the built-in ones, and HTTP push), NATS, the worker, and a
// bounded drain on SIGTERM/SIGINT.
const config = loadConfigOrExit(() => loadWorkerConfig())
const logger = createLogger('worker', config.log)
const { nats, worker } = await startOrExit(logger, async () => {
  const { handlersModule } = config.worker
  const definitions = handlersModule ? await loadHandlersModule(handlersModule) : builtinHandlerDefinitions({ jobDurationMs: config.worker.jobDurationMs })
  const push = pushHandlers(config.worker)
  const handlers = handlerRegistry([...definitions, ...push.byType])
  const jobTypes = loadJobTypes(config.queue.jobTypesFile)
  const nats = await connectNats(config.nats, 'sluice-worker', logger)
  const worker = await Worker.start({ config, nats, logger, handlers, fallback: push.fallback, jobTypes })
  return { nats, worker }
})

// Worker.close() is bounded by WORKER_DRAIN_MS; the exit bound adds a margin for closing NATS (exit-bounds.ts).
stopOnSignals(logger, exitBoundMs(exitBounds.worker, config), async () => {
  await worker.close()
  await nats.close()
})
