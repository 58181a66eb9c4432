import { randomBytes } from 'node:crypto'
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { eventually } from './eventually.ts'
import type { RunRecord } from './recording-worker.ts'

/** A worker process the ledger knows by its pid (an `AppProcess` fits). */
export interface CountedWorker {
  readonly pid: number
}

/** Loss accounting of one run: accepted ids against the runs the workers recorded. */
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
  /** Runs whose job id (as the worker handed it over) differs from the id in the payload: must be 0. */
  readonly idMismatches: number
}

/** Options of {@link ProcessedLedger.open}. */
export interface LedgerOptions {
  /** NATS URL(s) of the queue's server, comma-separated for a cluster. */
  readonly natsUrl: string
  /** Replicas of the record stream (the queue's QUEUE_REPLICAS, so it survives what the queue survives). @default 1 */
  readonly replicas?: number
}

/**
 * Counts how often each job finished, and which workers started it, from the run records that workers
 * started with recording-worker.ts store in a stream of this ledger's own (file storage, so a NATS restart
 * keeps them). Records are read on demand (`catchUp`), each time by a fresh ordered consumer from the
 * first record not read yet, so a NATS restart or an election between two reads costs nothing.
 */
export class ProcessedLedger {
  /** Subject prefix the workers record to: pass it as RUN_RECORDS_SUBJECT. */
  readonly subject: string
  readonly #nc: NatsConnection
  readonly #js: JetStreamClient
  readonly #jsm: JetStreamManager
  readonly #stream: string
  #reading: Promise<void> = Promise.resolve()
  readonly #finished = new Map<string, number>()
  readonly #started = new Map<string, number>()
  readonly #startedBy = new Map<string, Set<number>>()
  // Per worker: ids it finished, to tell "started and not finished here" (in progress, or cut short).
  readonly #finishedBy = new Map<number, Set<string>>()
  readonly #killed = new Set<number>()
  #lastSeq = 0
  #idMismatches = 0
  #totalFinished = 0

  private constructor(nc: NatsConnection, jsm: JetStreamManager, stream: string, subject: string) {
    this.#nc = nc
    this.#js = jetstream(nc, { timeout: 5000 })
    this.#jsm = jsm
    this.#stream = stream
    this.subject = subject
  }

  /** Creates the record stream (a unique name). */
  static async open({ natsUrl, replicas = 1 }: LedgerOptions): Promise<ProcessedLedger> {
    // Reconnects for as long as the test runs: the suites restart NATS and kill cluster nodes.
    const nc = await connect({ servers: natsUrl.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 })
    const tag = randomBytes(4).toString('hex').toUpperCase()
    const stream = `RUNS_${tag}`
    const subject = `runs_${tag}`
    const jsm = await jetstreamManager(nc, { timeout: 5000 })
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`], storage: 'file', num_replicas: replicas, duplicate_window: 120_000_000_000 })
    return new ProcessedLedger(nc, jsm, stream, subject)
  }

  /** Records that `worker` was killed: duplicates of jobs it had started are explained by at-least-once. */
  markKilled(worker: CountedWorker): void {
    this.#killed.add(worker.pid)
  }

  /** How many times `id` finished, as far as read (see `catchUp`). */
  finishedCount(id: string): number {
    return this.#finished.get(id) ?? 0
  }

  /** How many runs of `id` started, as far as read: more than its finished runs when a run was cut short. */
  startedCount(id: string): number {
    return this.#started.get(id) ?? 0
  }

  /** Jobs `worker` started and did not finish, as far as read. */
  inProgressOn(worker: CountedWorker): number {
    let count = 0
    for (const [id, workers] of this.#startedBy) if (workers.has(worker.pid) && !this.#finishedOn(id, worker.pid)) count++
    return count
  }

  /** Runs finished, as far as read. */
  get totalFinished(): number {
    return this.#totalFinished
  }

  /** Reads every record stored so far (one read at a time; a caller during a read waits for it, then reads on). */
  catchUp(): Promise<void> {
    this.#reading = this.#reading.catch(() => undefined).then(() => this.#readToEnd())
    return this.#reading
  }

  /** Compares `accepted` with the finished ids, after reading every record stored so far. */
  async report(accepted: ReadonlySet<string>): Promise<LossReport> {
    await eventually(
      'the run records to be read',
      async () => {
        await this.catchUp()
        return true
      },
      20_000,
    )
    return this.#report(accepted)
  }

  /** Waits (bounded) until every id in `accepted` finished at least once; resolves with the report either way. */
  async waitForAll(accepted: ReadonlySet<string>, timeoutMs: number): Promise<LossReport> {
    try {
      await eventually(
        `${accepted.size} accepted jobs to finish`,
        async () => {
          await this.catchUp()
          return this.#report(accepted).lost.length === 0 ? true : undefined
        },
        { timeoutMs, intervalMs: 200 },
      )
    } catch {
      // The report below names what is missing; that is the useful failure.
    }
    return this.report(accepted)
  }

  /** Deletes the record stream and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#nc.isClosed()) return
    await this.#reading.catch(() => undefined)
    await this.#jsm.streams.delete(this.#stream).catch(() => undefined)
    await this.#nc.close()
  }

  #report(accepted: ReadonlySet<string>): LossReport {
    const lost: string[] = []
    const duplicates: string[] = []
    const unexplainedDuplicates: string[] = []
    let rescued = 0
    for (const id of accepted) {
      const count = this.finishedCount(id)
      const startedOn = [...(this.#startedBy.get(id) ?? [])]
      const cutShort = startedOn.some((pid) => this.#killed.has(pid) && !this.#finishedOn(id, pid))
      if (cutShort && count > 0) rescued++
      if (count === 0) lost.push(id)
      if (count > 1) {
        duplicates.push(id)
        if (!startedOn.some((pid) => this.#killed.has(pid))) unexplainedDuplicates.push(id)
      }
    }
    return {
      accepted: accepted.size,
      processed: accepted.size - lost.length,
      lost,
      duplicates,
      unexplainedDuplicates,
      rescued,
      idMismatches: this.#idMismatches,
    }
  }

  #finishedOn(id: string, pid: number): boolean {
    return this.#finishedBy.get(pid)?.has(id) ?? false
  }

  async #readToEnd(): Promise<void> {
    const end = (await this.#jsm.streams.info(this.#stream)).state.last_seq
    while (this.#lastSeq < end) {
      const consumer = await this.#js.consumers.get(this.#stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#lastSeq + 1 })
      const batch = await consumer.fetch({ max_messages: Math.min(end - this.#lastSeq, 10_000), expires: 2000 })
      let read = 0
      for await (const message of batch) {
        this.#count(message.json<RunRecord>())
        this.#lastSeq = message.seq
        read++
      }
      if (read === 0) throw new Error(`no run records after ${this.#lastSeq} though the stream ends at ${end}`)
    }
  }

  #count(record: RunRecord): void {
    // The load sends payload.user_id = Idempotency-Key, so the handler must have been given that job id.
    if (record.jobId !== record.userId) this.#idMismatches++
    const id = record.jobId
    if (record.event === 'started') {
      this.#started.set(id, this.startedCount(id) + 1)
      let workers = this.#startedBy.get(id)
      if (!workers) {
        workers = new Set()
        this.#startedBy.set(id, workers)
      }
      workers.add(record.pid)
      return
    }
    this.#totalFinished++
    this.#finished.set(id, this.finishedCount(id) + 1)
    let ids = this.#finishedBy.get(record.pid)
    if (!ids) {
      ids = new Set()
      this.#finishedBy.set(record.pid, ids)
    }
    ids.add(id)
  }
}
