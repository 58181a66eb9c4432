import { applyQueueStreams, connectNats, createLogger, type NatsHandle } from '@sluice/core'
import { buildIngress, type Ingress } from '@sluice/ingress'
import { builtinHandlers, Worker, type HandlerRegistry } from '@sluice/worker'
import { ingressConfigFor, workerConfigFor, type Env } from './queue-env.ts'

/** An ingress built in this process (use `app.inject()`), with its own NATS connection. */
export interface InProcessIngress extends Ingress {
  readonly nats: NatsHandle
  close(): Promise<void>
}

/** Builds an ingress for `env` after applying the streams, as `main.ts` does. */
export async function startIngress(env: Env): Promise<InProcessIngress> {
  const config = ingressConfigFor({ PORT: '0', ...env })
  const logger = createLogger('ingress', config.log)
  const nats = await connectNats(config.nats, 'test-ingress', logger)
  await applyQueueStreams(nats.nc, config.queue, logger)
  const ingress = await buildIngress({ config, nats, logger })
  await ingress.app.ready()
  return {
    ...ingress,
    nats,
    async close() {
      await ingress.app.close()
      await nats.close()
    },
  }
}

/** A worker in this process, with its own NATS connection; `handlers` default to the built-in ones. */
export interface InProcessWorker {
  readonly worker: Worker
  readonly nats: NatsHandle
  close(): Promise<void>
}

/** Starts a worker for `env`; its health port is picked freely. */
export async function startWorker(env: Env, handlers?: HandlerRegistry): Promise<InProcessWorker> {
  const config = workerConfigFor({ WORKER_PORT: '0', WORKER_HOST: '127.0.0.1', ...env })
  const logger = createLogger('worker', config.log)
  const nats = await connectNats(config.nats, 'test-worker', logger)
  const worker = await Worker.start({ config, nats, logger, handlers: handlers ?? builtinHandlers({ jobDurationMs: config.worker.jobDurationMs }) })
  return {
    worker,
    nats,
    async close() {
      await worker.close()
      await nats.close()
    },
  }
}
