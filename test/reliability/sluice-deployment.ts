import { ProcessedLedger } from '../support/processed-ledger.ts'
import type { Env } from '../support/queue-env.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

/**
 * Ingress and worker processes of one test's queue, started, killed and replaced as the test's faults
 * require. Every worker's log feeds one {@link ProcessedLedger}, killed workers included, so loss and
 * duplicates can be counted across the whole run.
 */
export class SluiceDeployment {
  readonly env: Env
  readonly ledger = new ProcessedLedger()
  readonly #ingresses: AppProcess[] = []
  readonly #workers: AppProcess[] = []
  readonly #everything: AppProcess[] = []

  constructor(env: Env) {
    this.env = env
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

  /** Starts a worker at log level info, whose `processing user: <id>, finished` lines the ledger counts. */
  async addWorker(extra: Env = {}): Promise<AppProcess> {
    const worker = await startApp('worker', { ...this.env, ...extra }, 'info')
    this.#everything.push(worker)
    this.#workers.push(worker)
    this.ledger.watch(worker)
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

  /** Stops everything still running. */
  async close(): Promise<void> {
    await Promise.all(this.#everything.map((app) => app.stop()))
  }
}

/** Prints one line of a test's figures when `RELIABILITY_FIGURES` is set (quiet in `make test`). */
export function printFigures(test: string, figures: Record<string, number | string>): void {
  if (!process.env.RELIABILITY_FIGURES) return
  const line = Object.entries(figures).map(([name, value]) => `${name}=${value}`).join(' ')
  process.stdout.write(`[figures] ${test}: ${line}\n`)
}
