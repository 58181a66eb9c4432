// A worker process for the loss accounting (see processed-ledger.ts): the stock worker, wired as
// apps/worker/src/main.ts wires it, whose `user` handler also records each run in a JetStream stream
// (RUN_RECORDS_SUBJECT). Records are data the accounting reads, so rewording a log line cannot make it
// count nothing; and a run whose record could not be stored fails, so the job runs again.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { connectNats, createLogger, loadConfigOrExit, loadWorkerConfig, startOrExit, stopOnSignals } from '@sluice/core'
import { builtinHandlers, Worker, type JobHandler } from '@sluice/worker'

/** One event of one run of a `user` job, as stored on `<RUN_RECORDS_SUBJECT>.<event>`. */
export interface RunRecord {
  readonly event: 'started' | 'finished'
  /** The job id the worker handed the handler. */
  readonly jobId: string
  /** `payload.user_id`: the load sends the job's Idempotency-Key there, so it must equal `jobId`. */
  readonly userId: string
  /** Delivery count (1 for the first). */
  readonly attempt: number
  /** The worker process. */
  readonly pid: number
  /** Unique per run (handler call), so two runs of one delivery are two runs. */
  readonly run: string
}

/** This file, to start as a worker process's entry (see `startApp`). */
export const RECORDING_WORKER_ENTRY = fileURLToPath(import.meta.url)

/** The environment variable naming the subject prefix records go to. */
export const RUN_RECORDS_SUBJECT = 'RUN_RECORDS_SUBJECT'

// A record that cannot be stored within this long fails the run (and the job is retried).
const RECORD_TIMEOUT_MS = 30_000

async function store(js: JetStreamClient, subject: string, record: RunRecord, signal: AbortSignal): Promise<void> {
  // One message id per run and event: a retried publish whose first try was stored is not stored twice,
  // while a second run of the same job (another delivery, or the same one run again) is.
  const msgID = `${record.event}:${record.run}`
  const deadline = Date.now() + RECORD_TIMEOUT_MS
  for (;;) {
    try {
      await js.publish(`${subject}.${record.event}`, JSON.stringify(record), { msgID, timeout: 2000 })
      return
    } catch (error) {
      if (Date.now() >= deadline || signal.aborted) throw new Error(`run record ${msgID} not stored`, { cause: error })
      await sleep(200, undefined, { signal }).catch(() => undefined)
    }
  }
}

/** Wraps `inner` so that each run is recorded as `started` before it and `finished` after it succeeded. */
export function recordingHandler(inner: JobHandler, js: JetStreamClient, subject: string): JobHandler {
  return async (payload, context) => {
    const userId = String((payload as { user_id?: unknown } | null)?.user_id)
    const run = randomUUID()
    const record = (event: RunRecord['event']) =>
      store(js, subject, { event, jobId: context.job.id, userId, attempt: context.attempt, pid: process.pid, run }, context.signal)
    await record('started')
    await inner(payload, context)
    await record('finished')
  }
}

if (import.meta.main) {
  const subject = process.env[RUN_RECORDS_SUBJECT]
  if (!subject) throw new Error(`${RUN_RECORDS_SUBJECT} must name the subject prefix for run records`)
  const config = loadConfigOrExit(() => loadWorkerConfig())
  const logger = createLogger('worker', config.log)
  const { nats, worker } = await startOrExit(logger, async () => {
    const nats = await connectNats(config.nats, 'sluice-recording-worker', logger)
    const handlers = new Map(builtinHandlers({ jobDurationMs: config.worker.jobDurationMs }))
    handlers.set('user', recordingHandler(handlers.get('user')!, jetstream(nats.nc), subject))
    const worker = await Worker.start({ config, nats, logger, handlers })
    return { nats, worker }
  })
  stopOnSignals(logger, config.worker.drainMs + 5000, async () => {
    await worker.close()
    await nats.close()
  })
}
