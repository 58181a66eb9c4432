import type { JetStreamClient } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'

/**
 * Where a job is:
 * - `queued`: stored, waiting for a worker;
 * - `running`: a worker is on it;
 * - `failed`: the last attempt failed and a retry is scheduled (`nextAttemptAt`);
 * - `succeeded`: done;
 * - `dead`: every attempt failed (or the type is unknown); the job is in the dead-letter stream.
 */
export type JobState = 'queued' | 'running' | 'failed' | 'succeeded' | 'dead'

/** What `GET /v1/jobs/<id>` returns. Timestamps are ISO 8601. */
export interface JobStatus {
  readonly id: string
  readonly type: string
  readonly state: JobState
  /** Deliveries so far (0 while queued). */
  readonly attempts: number
  readonly queuedAt: string
  readonly startedAt?: string
  readonly finishedAt?: string
  readonly updatedAt: string
  /** Last error message, for `failed` and `dead`. */
  readonly error?: string
  /** When the next attempt is due, for `failed`. */
  readonly nextAttemptAt?: string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Job states in a JetStream key-value bucket (history 1, bucket TTL): one small write per state change by
 * the worker, so the ingress's accept path stays a single publish.
 */
export class JobStatusStore {
  readonly #kv: KV

  private constructor(kv: KV) {
    this.#kv = kv
  }

  /** Opens an existing bucket (the ingress creates it with the queue topology). */
  static async open(js: JetStreamClient, bucket: string): Promise<JobStatusStore> {
    return new JobStatusStore(await new Kvm(js).open(bucket))
  }

  /** The last recorded state, or undefined when none is kept (unknown id, not started yet, or expired). */
  async get(id: string): Promise<JobStatus | undefined> {
    const entry = await this.#kv.get(id)
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined
    return JSON.parse(decoder.decode(entry.value)) as JobStatus
  }

  /** Records a state. */
  async put(status: JobStatus): Promise<void> {
    await this.#kv.put(status.id, encoder.encode(JSON.stringify(status)))
  }
}
