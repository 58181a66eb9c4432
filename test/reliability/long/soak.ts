import { setTimeout as sleep } from 'node:timers/promises'
import { startJobLoad, type LoadResult } from '../../support/load-generator.ts'
import type { LossReport } from '../../support/processed-ledger.ts'
import type { NatsServerFixture } from '../../support/nats-server.ts'
import { queueEnv } from '../../support/queue-env.ts'
import { SluiceDeployment } from '../sluice-deployment.ts'
import { RssSampler, type RssFigures } from './rss-sampler.ts'

/** Settings of one soak run, from the environment (see `soakSettings`). */
export interface SoakSettings {
  /** Load duration, in s. */
  readonly seconds: number
  readonly workers: number
  readonly concurrency: number
  /** Duration of one `user` job, in ms. */
  readonly jobMs: number
  /** Share of the workers' capacity (workers × concurrency / job duration) sent as load. */
  readonly loadFactor: number
  /** A random worker is SIGKILLed (and replaced) every this many seconds, ±50%. */
  readonly killEverySeconds: number
  /** How long accepted jobs may take to finish once the load stopped, in s. */
  readonly settleSeconds: number
}

/** What a soak run measured. */
export interface SoakResult {
  readonly settings: SoakSettings
  readonly ratePerSecond: number
  readonly load: LoadResult
  readonly loss: LossReport
  readonly killedWorkers: number
  /** Processes that died without being killed. */
  readonly crashed: readonly string[]
  readonly rss: readonly RssFigures[]
  readonly durationMs: number
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

/** Reads SOAK_SECONDS (600), SOAK_WORKERS (3), SOAK_CONCURRENCY (4), SOAK_JOB_MS (100), SOAK_LOAD_FACTOR (0.8), SOAK_KILL_EVERY_SECONDS (20), SOAK_SETTLE_SECONDS (60). */
export function soakSettings(): SoakSettings {
  return {
    seconds: positive('SOAK_SECONDS', 600),
    workers: positive('SOAK_WORKERS', 3),
    concurrency: positive('SOAK_CONCURRENCY', 4),
    jobMs: positive('SOAK_JOB_MS', 100),
    loadFactor: positive('SOAK_LOAD_FACTOR', 0.8),
    killEverySeconds: positive('SOAK_KILL_EVERY_SECONDS', 20),
    settleSeconds: positive('SOAK_SETTLE_SECONDS', 60),
  }
}

/**
 * Steady load at `loadFactor` of the workers' capacity for `seconds`, one ingress, workers SIGKILLed at
 * random moments and replaced; RSS of every process sampled every 5 s. Then every accepted job must
 * finish within `settleSeconds`.
 */
export async function runSoak(server: NatsServerFixture, settings: SoakSettings, progress: (line: string) => void): Promise<SoakResult> {
  const started = Date.now()
  const capacity = (settings.workers * settings.concurrency * 1000) / settings.jobMs
  const ratePerSecond = Math.max(1, Math.round(capacity * settings.loadFactor))
  const deployment = await SluiceDeployment.create(
    queueEnv(server.url, {
      JOB_DURATION_MS: String(settings.jobMs),
      WORKER_CONCURRENCY: String(settings.concurrency),
      // A killed worker's jobs come back after this; short, so the backlog it leaves stays small.
      QUEUE_ACK_WAIT_MS: '3000',
      QUEUE_MAX_ACK_PENDING: String(settings.workers * settings.concurrency * 4),
    }),
  )
  const rss = new RssSampler(5000)
  let killed = 0
  try {
    rss.track('ingress', (await deployment.addIngress()).pid)
    let workersStarted = 0
    const addWorker = async () => rss.track(`worker-${++workersStarted}`, (await deployment.addWorker()).pid)
    for (let i = 0; i < settings.workers; i++) await addWorker()

    progress(
      `soak: ${ratePerSecond} jobs/s (${Math.round(settings.loadFactor * 100)}% of ${capacity}/s) for ${settings.seconds} s, a worker killed every ~${settings.killEverySeconds} s`,
    )
    const load = startJobLoad({ targets: deployment.targets, ratePerSecond, maxInFlight: 256, idPrefix: 'soak' })
    const endAt = Date.now() + settings.seconds * 1000
    let nextReport = Date.now() + 30_000
    while (Date.now() < endAt) {
      const waitMs = Math.min(endAt - Date.now(), settings.killEverySeconds * 1000 * (0.5 + Math.random()))
      await sleep(Math.max(0, waitMs))
      if (Date.now() >= endAt) break
      const victim = deployment.workers[Math.floor(Math.random() * deployment.workers.length)]
      if (victim) {
        await deployment.kill(victim)
        killed++
        await addWorker()
      }
      if (Date.now() >= nextReport) {
        const now = load.snapshot()
        await deployment.ledger.catchUp().catch(() => undefined)
        progress(
          `soak: ${Math.round((Date.now() - started) / 1000)} s, accepted ${now.accepted.size}, finished ${deployment.ledger.totalFinished}, 503s ${now.refused503}, workers killed ${killed}`,
        )
        nextReport = Date.now() + 30_000
      }
    }
    const result = await load.stop()
    progress(`soak: load stopped after ${result.sent} requests; waiting up to ${settings.settleSeconds} s for accepted jobs to finish`)
    const loss = await deployment.ledger.waitForAll(result.accepted, settings.settleSeconds * 1000)
    const crashed = deployment.crashed().map((app) => `${app.name} ${app.pid} ${JSON.stringify(app.exit())}: ${app.logTail(5)}`)
    return { settings, ratePerSecond, load: result, loss, killedWorkers: killed, crashed, rss: rss.stop(), durationMs: Date.now() - started }
  } finally {
    rss.stop()
    await deployment.close()
  }
}
