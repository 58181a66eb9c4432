import { closeSync, openSync, readSync } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import { eventually } from './eventually.ts'

/** A worker whose log the ledger reads (an `AppProcess` fits). */
export interface LoggedWorker {
  readonly pid: number
  readonly logPath: string
}

/** Loss accounting of one run: accepted ids against what the workers finished. */
export interface LossReport {
  readonly accepted: number
  /** Accepted ids finished at least once. */
  readonly processed: number
  /** Accepted ids never finished: must be empty. */
  readonly lost: readonly string[]
  /** Accepted ids finished more than once. */
  readonly duplicates: readonly string[]
  /** Duplicates that at-least-once delivery does not explain (no killed worker had started them). */
  readonly unexplainedDuplicates: readonly string[]
  /** Accepted ids a killed worker had started without finishing, finished by another worker. */
  readonly rescued: number
  /** Lines whose job id (as the worker received it) differs from the id in the payload: must be 0. */
  readonly idMismatches: number
}

// The `user` handler's log lines (pino JSON), with the job id the worker's child logger binds:
// `"jobId":"<job id>",...,"msg":"processing user: <payload user_id>, started|finished"`.
const LINE = /"jobId":"([^"]*)".*"msg":"processing user: ([A-Za-z0-9_-]+), (started|finished)"/

interface Tail {
  readonly worker: LoggedWorker
  readonly decoder: StringDecoder
  offset: number
  partial: string
}

/**
 * Counts, from the workers' logs, how often each job id finished and which workers started it. The logs
 * are read incrementally (only new bytes on each `poll()`), so a long soak does not re-read them, and a
 * killed worker's log stays countable after it died.
 */
export class ProcessedLedger {
  readonly #tails: Tail[] = []
  readonly #finished = new Map<string, number>()
  readonly #startedBy = new Map<string, Set<number>>()
  readonly #killed = new Set<number>()
  // Per worker: ids it finished, to tell "started and not finished here" (in progress when killed).
  readonly #finishedBy = new Map<number, Set<string>>()
  #idMismatches = 0

  /** Starts reading `worker`'s log. */
  watch(worker: LoggedWorker): void {
    this.#tails.push({ worker, decoder: new StringDecoder('utf8'), offset: 0, partial: '' })
  }

  /** Records that `worker` was killed: duplicates of jobs it had started are explained by at-least-once. */
  markKilled(worker: LoggedWorker): void {
    this.#killed.add(worker.pid)
  }

  /** How many times `id` finished so far (as of the last poll). */
  finishedCount(id: string): number {
    return this.#finished.get(id) ?? 0
  }

  /** Jobs `worker` started and did not finish (as of the last poll). */
  inProgressOn(worker: LoggedWorker): number {
    let count = 0
    for (const [id, workers] of this.#startedBy) if (workers.has(worker.pid) && !this.#finishedOn(id, worker)) count++
    return count
  }

  /** Total finished lines seen. */
  get totalFinished(): number {
    let total = 0
    for (const count of this.#finished.values()) total += count
    return total
  }

  /** Reads what the logs gained since the last poll. */
  poll(): void {
    for (const tail of this.#tails) this.#read(tail)
  }

  /** Compares `accepted` with the finished ids. */
  report(accepted: ReadonlySet<string>): LossReport {
    this.poll()
    const lost: string[] = []
    const duplicates: string[] = []
    const unexplainedDuplicates: string[] = []
    let rescued = 0
    for (const id of accepted) {
      const count = this.finishedCount(id)
      const cutShort = [...(this.#startedBy.get(id) ?? [])].some((pid) => this.#killed.has(pid) && !this.#finishedBy.get(pid)?.has(id))
      if (cutShort && count > 0) rescued++
      if (count === 0) lost.push(id)
      if (count > 1) {
        duplicates.push(id)
        const startedOnKilled = [...(this.#startedBy.get(id) ?? [])].some((pid) => this.#killed.has(pid))
        if (!startedOnKilled) unexplainedDuplicates.push(id)
      }
    }
    return { accepted: accepted.size, processed: accepted.size - lost.length, lost, duplicates, unexplainedDuplicates, rescued, idMismatches: this.#idMismatches }
  }

  /** Waits (bounded) until every id in `accepted` finished at least once; resolves with the report either way. */
  async waitForAll(accepted: ReadonlySet<string>, timeoutMs: number): Promise<LossReport> {
    try {
      await eventually(`${accepted.size} accepted jobs to finish`, () => (this.report(accepted).lost.length === 0 ? true : undefined), timeoutMs)
    } catch {
      // The report below names what is missing; that is the useful failure.
    }
    return this.report(accepted)
  }

  #finishedOn(id: string, worker: LoggedWorker): boolean {
    return this.#finishedBy.get(worker.pid)?.has(id) ?? false
  }

  #read(tail: Tail): void {
    let fd: number
    try {
      fd = openSync(tail.worker.logPath, 'r')
    } catch {
      return
    }
    try {
      const chunk = Buffer.allocUnsafe(1 << 20)
      for (;;) {
        const bytes = readSync(fd, chunk, 0, chunk.length, tail.offset)
        if (bytes === 0) break
        tail.offset += bytes
        const lines = (tail.partial + tail.decoder.write(chunk.subarray(0, bytes))).split('\n')
        tail.partial = lines.pop() ?? ''
        for (const line of lines) this.#count(line, tail.worker.pid)
      }
    } finally {
      closeSync(fd)
    }
  }

  #count(line: string, pid: number): void {
    const match = LINE.exec(line)
    if (!match) return
    // The load sends payload.user_id = Idempotency-Key, so the handler must have been given that job id.
    if (match[1] !== match[2]) this.#idMismatches++
    const id = match[2]!
    if (match[3] === 'started') {
      let workers = this.#startedBy.get(id)
      if (!workers) this.#startedBy.set(id, (workers = new Set()))
      workers.add(pid)
      return
    }
    this.#finished.set(id, (this.#finished.get(id) ?? 0) + 1)
    let ids = this.#finishedBy.get(pid)
    if (!ids) this.#finishedBy.set(pid, (ids = new Set()))
    ids.add(id)
  }
}
