import { connectNats, createLogger, loadConfigOrExit, loadWorkerConfig, startOrExit } from '@sluice/core'
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

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info({ signal }, 'shutting down')
  // Worker.close() is bounded by WORKER_DRAIN_MS; the extra margin covers flushing NATS.
  const deadline = setTimeout(() => {
    logger.error('shutdown took too long; exiting')
    process.exit(1)
  }, config.worker.drainMs + 5000)
  deadline.unref()
  await worker.close()
  await nats.close()
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))
