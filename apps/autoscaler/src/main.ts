import { KubeConfig } from '@kubernetes/client-node'
import {
  connectNats,
  createLogger,
  exitBoundMs,
  exitBounds,
  loadAutoscalerConfig,
  loadConfigOrExit,
  startOpsServer,
  startOrExit,
  stopOnSignals,
  type NatsHandle,
} from '@sluice/core'
import { operatorIdentity, operatorNamespace, startOperator } from './kubernetes-operator.ts'
import { startLocalMode } from './local-mode.ts'
import { createAutoscalerMetrics } from './metrics/autoscaler-metrics.ts'

// Wires the process: config, the mode (operator in a cluster, worker processes locally), the ops port, and
// a bounded stop on SIGTERM/SIGINT.
const config = loadConfigOrExit(() => loadAutoscalerConfig())
const settings = config.autoscaler
const logger = createLogger('autoscaler', config.log)
const metrics = createAutoscalerMetrics()

const running = await startOrExit(logger, async () => {
  if (settings.mode === 'local') {
    const nats: NatsHandle = await connectNats(config.nats, 'sluice-autoscaler', logger)
    const local = startLocalMode(config, nats, logger, metrics)
    const ops = await startOpsServer({
      host: settings.host,
      port: settings.port,
      registry: metrics.registry,
      isReady: () => nats.isConnected() && local.isReady(),
    })
    logger.info({ port: ops.port }, 'autoscaler (local mode) listening')
    return {
      ops,
      stop: async () => {
        await local.close()
        await nats.close()
      },
    }
  }
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromDefault()
  const namespace = operatorNamespace(settings.namespace)
  const identity = operatorIdentity(settings.identity)
  const operator = startOperator({
    kubeConfig,
    namespace,
    identity,
    leaseName: settings.leaseName,
    leaseDurationMs: settings.leaseDurationSeconds * 1000,
    renewDeadlineMs: settings.renewDeadlineSeconds * 1000,
    retryPeriodMs: settings.retryPeriodSeconds * 1000,
    concurrency: settings.reconcileConcurrency,
    shutdownMs: settings.shutdownMs,
    // A QueueScaler's Secrets go only to the NATS this process is configured for.
    credentialServers: config.nats.url,
    logger,
    metrics,
  })
  const ops = await startOpsServer({ host: settings.host, port: settings.port, registry: metrics.registry, isReady: () => operator.isReady() })
  logger.info({ port: ops.port, namespace, identity }, 'autoscaler (kubernetes mode) listening')
  return { ops, stop: () => operator.close() }
})

// Bounded by AUTOSCALER_SHUTDOWN_MS (reconciles, or local workers draining) plus the Lease release (exit-bounds.ts).
stopOnSignals(logger, exitBoundMs(exitBounds.autoscaler, config), async () => {
  try {
    await running.stop()
  } finally {
    await running.ops.close()
  }
})
