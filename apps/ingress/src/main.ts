// First: V8 flags that must hold before any hot code runs.
import './v8-tuning.ts'
import {
  applyQueueStreams,
  connectNats,
  createLogger,
  exitBoundMs,
  exitBounds,
  loadConfigOrExit,
  loadIngressConfig,
  startOrExit,
  stopOnSignals,
} from '@sluice/core'
import { buildIngress } from './app.ts'

// Wires the process: config, NATS, topology, HTTP listener, and a bounded drain on SIGTERM/SIGINT.
const config = loadConfigOrExit(() => loadIngressConfig())
const logger = createLogger('ingress', config.log)
const { nats, ingress, ops } = await startOrExit(logger, async () => {
  const nats = await connectNats(config.nats, 'sluice-ingress', logger)
  await applyQueueStreams(nats.nc, config.queue, logger)
  const ingress = await buildIngress({ config, nats, logger })
  // Before the probes and the listener: a pod gets traffic only once its accept path is warm.
  await ingress.warmUp()
  const ops = await ingress.startOps()
  await ingress.app.listen({ host: config.ingress.host, port: config.ingress.port })
  return { nats, ingress, ops }
})

// Readiness fails first, then the listener closes and in-flight requests (their publishes included) answer.
stopOnSignals(logger, exitBoundMs(exitBounds.ingress, config), async () => {
  ingress.startDraining()
  await ingress.app.close()
  await ops.close()
  await nats.close()
})
