import { ProcessedLedger } from '../support/processed-ledger.ts'
import type { Env } from '../support/queue-env.ts'
import { RECORDING_WORKER_ENTRY, RUN_RECORDS_SUBJECT } from '../support/recording-worker.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

/**
 * Ingress and worker processes of one test's queue, started, killed and replaced as the test's faults
 * require. Every worker records its runs of `user` jobs for one {@link ProcessedLedger}, killed workers
 * included, so loss and duplicates can be counted across the whole run.
 */
export class SluiceDeployment {
  readonly env: Env
  readonly ledger: ProcessedLedger
  readonly #ingresses: AppProcess[] = []
  readonly #workers: AppProcess[] = []
  readonly #everything: AppProcess[] = []

  private constructor(env: Env, ledger: ProcessedLedger) {
    this.env = env
    this.ledger = ledger
  }

  /** A deployment of the queue `env` describes; nothing runs until `addIngress` and `addWorker`. */
  static async create(env: Env): Promise<SluiceDeployment> {
    const ledger = await ProcessedLedger.open({ natsUrl: env.NATS_URL!, replicas: Number(env.QUEUE_REPLICAS ?? 1) })
    return new SluiceDeployment(env, ledger)
  }

  /** Live ingresses. */
  get ingresses(): readonly AppProcess[] {
    return this.#ingresses
  }

  /** Live workers. */
  get workers(): readonly AppProcess[] {
    return this.#workers
  }

  /** Every process started, dead ones included (for RSS and exit checks). */
  get everything(): readonly AppProcess[] {
    return this.#everything
  }

  /** Base URLs of the live ingresses, for the load generator. */
  readonly targets = (): readonly string[] => this.#ingresses.map((ingress) => ingress.baseUrl)

  /** Starts an ingress (log level warn: its per-request lines are not needed). */
  async addIngress(extra: Env = {}): Promise<AppProcess> {
    const ingress = await startApp('ingress', { ...this.env, ...extra }, 'warn')
    this.#everything.push(ingress)
    this.#ingresses.push(ingress)
    return ingress
  }

  /** Starts a worker (the stock one, wired by recording-worker.ts) whose runs the ledger counts. */
  async addWorker(extra: Env = {}): Promise<AppProcess> {
    const worker = await startApp('worker', { ...this.env, ...extra, [RUN_RECORDS_SUBJECT]: this.ledger.subject }, 'info', undefined, RECORDING_WORKER_ENTRY)
    this.#everything.push(worker)
    this.#workers.push(worker)
    return worker
  }

  /** SIGKILLs `app` (no drain, no flush) and waits for it to be gone. */
  async kill(app: AppProcess): Promise<void> {
    for (const live of [this.#ingresses, this.#workers]) {
      const index = live.indexOf(app)
      if (index >= 0) live.splice(index, 1)
    }
    if (this.#everything.includes(app)) this.ledger.markKilled(app)
    app.signal('SIGKILL')
    await app.exited
  }

  /** Processes that exited without being killed by the test (a crash). */
  crashed(): AppProcess[] {
    const live = new Set([...this.#ingresses, ...this.#workers])
    return this.#everything.filter((app) => live.has(app) && app.exit() !== undefined)
  }

  /** Stops everything still running, then the ledger. */
  async close(): Promise<void> {
    await Promise.all(this.#everything.map((app) => app.stop()))
    await this.ledger.close()
  }
}

/** Prints one line of a test's figures when `RELIABILITY_FIGURES` is set (quiet in `make test`). */
export function printFigures(test: string, figures: Record<string, number | string>): void {
  if (!process.env.RELIABILITY_FIGURES) return
  const line = Object.entries(figures)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')
  process.stdout.write(`[figures] ${test}: ${line}\n`)
}
