import { connectNats, createLogger, exitBoundMs, exitBounds, loadConfigOrExit, loadWorkerConfig, startOrExit, stopOnSignals } from '@sluice/core'
import { builtinHandlers } from './handlers/builtin-handlers.ts'
import { Worker } from './worker.ts'

// Wires the process: config, NATS, the worker, and a bounded drain on SIGTERM/SIGINT.
const config = loadConfigOrExit(() => loadWorkerConfig())
const logger = createLogger('worker', config.log)
const { nats, worker } = await startOrExit(logger, async () => {
  const nats = await connectNats(config.nats, 'sluice-worker', logger)
  const worker = await Worker.start({ config, nats, logger, handlers: builtinHandlers({ jobDurationMs: config.worker.jobDurationMs }) })
  return { nats, worker }
})

// Worker.close() is bounded by WORKER_DRAIN_MS; the exit bound adds a margin for closing NATS (exit-bounds.ts).
stopOnSignals(logger, exitBoundMs(exitBounds.worker, config), async () => {
  await worker.close()
  await nats.close()
})
