import type { JetStreamClient } from '@nats-io/jetstream'
import { Kvm, type KV, type KvEntry } from '@nats-io/kv'
import { headers } from '@nats-io/nats-core'
import { supersedes } from './job-state-order.ts'
import type { PipelinedPublisher } from './pipelined-publisher.ts'

/**
 * Where a job is:
 * - `scheduled`: stored, waiting for its due time (`runAt`), then for a worker;
 * - `queued`: stored, waiting for a worker;
 * - `running`: a worker is on it;
 * - `failed`: the last attempt failed and a retry is scheduled (`nextAttemptAt`);
 * - `succeeded`: done;
 * - `dead`: every attempt failed (or the type is unknown); the job is in the dead-letter stream;
 * - `cancelled`: `DELETE /v1/jobs/<id>` removed it before it finished (a running handler was aborted).
 */
export type JobState = 'scheduled' | 'queued' | 'running' | 'failed' | 'succeeded' | 'dead' | 'cancelled'

/** What a running handler last reported (`context.progress`), as `GET /v1/jobs/<id>` shows it. */
export interface JobProgress {
  /** The handler's figure (percent done, items processed: its choice); a finite number. */
  readonly value: number
  /** A small JSON value beside it (at most JOB_PROGRESS_DATA_MAX_BYTES once serialised). */
  readonly data?: unknown
}

/** Most bytes of a progress report's `data`, serialised as JSON. */
export const JOB_PROGRESS_DATA_MAX_BYTES = 1024

/** What `GET /v1/jobs/<id>` returns. Timestamps are ISO 8601. */
export interface JobStatus {
  readonly id: string
  readonly type: string
  readonly state: JobState
  /** Attempts so far (0 while scheduled or queued). */
  readonly attempts: number
  readonly queuedAt: string
  /** When a scheduled job is due (ISO 8601), for `scheduled` (and `cancelled`, when cancelled while scheduled). */
  readonly runAt?: string
  readonly startedAt?: string
  readonly finishedAt?: string
  readonly updatedAt: string
  /** Last error message, for `failed` and `dead`. */
  readonly error?: string
  /** When the next attempt is due, for `failed`. */
  readonly nextAttemptAt?: string
  /** What the handler returned (JSON, at most JOB_RESULT_MAX_BYTES), for `succeeded`. */
  readonly result?: unknown
  /** The handler's last progress report, for `running` (written at most once a second per job). */
  readonly progress?: JobProgress
  /** The label of the API key that submitted the job (`JobHeader.owner`), for the ingress's access check; never shown by the API. */
  readonly owner?: string
}

const decoder = new TextDecoder()

/**
 * Job states in a JetStream key-value bucket (history 1, bucket TTL): one small write per state change by
 * the worker, so the ingress's accept path stays a single publish.
 */
export class JobStatusStore {
  readonly #kv: KV
  readonly #bucket: string
  readonly #publisher: PipelinedPublisher | undefined

  private constructor(kv: KV, bucket: string, publisher: PipelinedPublisher | undefined) {
    this.#kv = kv
    this.#bucket = bucket
    this.#publisher = publisher
  }

  /**
   * Opens an existing bucket (the ingress creates it with the queue topology). Writers pass a pipelined
   * publisher: a state write is then one pipelined publish to the bucket's subject rather than a request.
   */
  static async open(js: JetStreamClient, bucket: string, publisher?: PipelinedPublisher): Promise<JobStatusStore> {
    return new JobStatusStore(await new Kvm(js).open(bucket), bucket, publisher)
  }

  /** The last recorded state, or undefined when none is kept (unknown id, not started yet, or expired). */
  async get(id: string): Promise<JobStatus | undefined> {
    return parseStatus(await this.#kv.get(id))
  }

  /**
   * Records a state over the one at `expectedRevision` (0: no state yet), as one pipelined publish the
   * server stores only if the key is still at that revision, and resolves the new revision. Rejects when
   * another writer got in between (a cancel, a redrive): the caller decides again with `advance`. As cheap
   * as a plain put, but it can never overwrite a state it has not seen. Job ids are valid keys as they are.
   */
  async replace(status: JobStatus, expectedRevision: number): Promise<number> {
    // Buffer.from slices small strings out of a shared pool; TextEncoder allocated an ArrayBuffer per
    // state, which showed in a busy worker's profile (encoding and the garbage it left).
    const value = Buffer.from(JSON.stringify(status))
    if (!this.#publisher) return expectedRevision === 0 ? this.#kv.create(status.id, value) : this.#kv.update(status.id, value, expectedRevision)
    const expected = headers()
    expected.set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(expectedRevision))
    return (await this.#publisher.publish(`$KV.${this.#bucket}.${status.id}`, value, expected)).seq
  }

  /**
   * Follows one job's recorded state: `onChange` gets the current one first (when there is one), then each
   * write as it happens, and `undefined` when the key is deleted or expires. One ordered consumer per call,
   * until the returned function stops it.
   */
  async watch(id: string, onChange: (status: JobStatus | undefined) => void): Promise<StopWatching> {
    const entries = await this.#kv.watch({ key: id })
    void (async () => {
      for await (const entry of entries) onChange(parseStatus(entry))
    })().catch(() => onChange(undefined))
    return () => entries.stop()
  }

  /**
   * Records `status` only if it moves the job's recorded state forward (see `supersedes`), as one
   * compare-and-set on the key's revision, and resolves the revision written. Resolves undefined, writing
   * nothing, when the recorded state is newer. Costs a read more than `replace`, so writers use it where
   * another writer may have written since their own last write.
   */
  async advance(status: JobStatus): Promise<number | undefined> {
    const value = Buffer.from(JSON.stringify(status))
    for (let attempt = 1; ; attempt++) {
      const entry = await this.#kv.get(status.id)
      const current = parseStatus(entry)
      if (current && !supersedes(status, current)) return undefined
      try {
        return entry ? await this.#kv.update(status.id, value, entry.revision) : await this.#kv.create(status.id, value)
      } catch (error) {
        // Another writer got in between the read and the write: decide again on what it wrote.
        if (attempt === ADVANCE_ATTEMPTS) throw error
      }
    }
  }
}

/** Stops a {@link JobStatusStore.watch}. */
export type StopWatching = () => void

// The JetStream header a publish carries to be stored only while its subject's last message is that one.
const EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence'

/** Compare-and-set rounds before `advance` gives up (each lost round means another writer progressed). */
const ADVANCE_ATTEMPTS = 5

// Other clients can write the bucket too: what is not a state of ours counts as no state.
function parseStatus(entry: KvEntry | null): JobStatus | undefined {
  if (entry?.operation !== 'PUT' || entry.value.length === 0) return undefined
  try {
    const status = JSON.parse(decoder.decode(entry.value)) as Partial<JobStatus> | null
    return typeof status?.state === 'string' && typeof status.attempts === 'number' && typeof status.queuedAt === 'string' ? (status as JobStatus) : undefined
  } catch {
    return undefined
  }
}
