import { applyQueueStreams, connectNats, createLogger, loadConfigOrExit, loadIngressConfig, startOrExit } from '@sluice/core'
import { buildIngress } from './app.ts'

// Wires the process: config, NATS, topology, HTTP listener, and a bounded drain on SIGTERM/SIGINT.
const config = loadConfigOrExit(() => loadIngressConfig())
const logger = createLogger('ingress', config.log)
const { nats, ingress } = await startOrExit(logger, async () => {
  const nats = await connectNats(config.nats, 'sluice-ingress', logger)
  await applyQueueStreams(nats.nc, config.queue, logger)
  const ingress = await buildIngress({ config, nats, logger })
  await ingress.app.listen({ host: config.ingress.host, port: config.ingress.port })
  return { nats, ingress }
})

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info({ signal, drainMs: config.ingress.drainMs }, 'draining')
  const deadline = setTimeout(() => {
    logger.error({ drainMs: config.ingress.drainMs }, 'drain took too long; exiting with requests still open')
    process.exit(1)
  }, config.ingress.drainMs)
  deadline.unref()
  ingress.startDraining()
  // Stops the listener and waits for in-flight requests (their publishes included) to answer.
  await ingress.app.close()
  await nats.close()
  logger.info('stopped')
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))
