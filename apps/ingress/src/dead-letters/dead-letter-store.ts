import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import { deadLetterSubject, isJetStreamError, JetStreamCode, JobHeader, type JobStatusStore, type QueueConfig, SluiceError } from '@sluice/core'
import { toQueueError, type JobPublisher } from '../job-publisher.ts'
import { AlreadyRedrivenError, DeadLetterNotFoundError, DeadLetterTooLargeError } from '../request-errors.ts'
import { describeDeadLetter, type DeadLetter } from './dead-letter.ts'

/**
 * What one redrive did: `redriven`, this call put the job back and removed its dead letter; or the
 * refusal to answer: `AlreadyRedrivenError`, another call read the same dead letter and removed it first
 * (the job is back once); `DeadLetterNotFoundError`, there is no dead letter for the id (never, or
 * redriven earlier); `DeadLetterTooLargeError`, its body is larger than JOB_MAX_BYTES (another NATS client
 * wrote the job), so it stays a dead letter; or the queue's refusal of the job (full, unavailable).
 */
export type RedriveOutcome = 'redriven' | SluiceError

/** Reads and redrives the dead-letter stream. */
export class DeadLetterStore {
  readonly #jsm: JetStreamManager
  readonly #queue: QueueConfig
  readonly #publisher: JobPublisher
  readonly #statusStore: JobStatusStore

  constructor(jsm: JetStreamManager, queue: QueueConfig, publisher: JobPublisher, statusStore: JobStatusStore) {
    this.#jsm = jsm
    this.#queue = queue
    this.#publisher = publisher
    this.#statusStore = statusStore
  }

  /** Up to `limit` dead letters with a sequence above `after`, oldest first. */
  async list(after: number, limit: number): Promise<DeadLetter[]> {
    const page: DeadLetter[] = []
    let seq = after + 1
    while (page.length < limit) {
      // Direct get (the stream allows it) answers "first message at or after seq" in one request.
      const stored = await this.#jsm.direct.getMessage(this.#queue.deadLetterStream, { seq, next_by_subj: `${this.#queue.deadLetterSubjectPrefix}.>` })
      if (!stored) break
      page.push(this.#describe(stored))
      seq = stored.seq + 1
    }
    return page
  }

  /**
   * Puts job `id` back in the queue (same id, payload and type; attempts start again) and removes it from
   * the dead letters. Safe to run at the same time as another redrive of the same job: the republish is
   * de-duplicated by the dead letter's sequence, so the job is back once, and the call whose delete removed
   * the dead letter is the one that redrove it. Rejects only when the dead letters cannot be read.
   */
  async redrive(id: string): Promise<RedriveOutcome> {
    const stored = await this.#stored(id)
    if (!stored) return new DeadLetterNotFoundError(id)
    // A job goes back only as one the ingress would take: with our headers added, a bigger body may not
    // fit the queue's max_msg_size, and the queue's refusal would read as an outage.
    if (stored.data.length > this.#queue.jobMaxBytes) return new DeadLetterTooLargeError(id, this.#queue.jobMaxBytes)
    const letter = this.#describe(stored)
    const queuedAt = new Date().toISOString()
    // The job stays its submitting key's (JobHeader.owner).
    const owner = stored.header.get(JobHeader.owner)
    const owned = owner ? { owner } : {}
    // And keeps its callback, which the sender checks against the allow-list of the day.
    const callbackUrl = stored.header.get(JobHeader.callbackUrl)
    const ack = await this.#publisher
      .publish({
        id,
        type: letter.type,
        queuedAt,
        payload: stored.data,
        dedupeId: `${id}-redrive-${stored.seq}`,
        ...owned,
        ...(callbackUrl ? { callbackUrl } : {}),
      })
      .catch(toQueueError)
    if (ack instanceof SluiceError) return ack
    // Only the redrive whose publish stored the job records it, with the queue time the job carries: a
    // later time from an overlapping redrive would outrank every state the worker records for it. Written
    // as an advance, since a worker may already have moved the job on (running, or even done).
    if (!ack.duplicate) {
      await this.#statusStore.advance({ id, type: letter.type, state: 'queued', attempts: 0, queuedAt, updatedAt: queuedAt, ...owned }).catch(() => undefined)
    }
    return (await this.#remove(stored.seq)) ? 'redriven' : new AlreadyRedrivenError(id)
  }

  async #stored(id: string): Promise<StoredMsg | null> {
    return this.#jsm.streams.getMessage(this.#queue.deadLetterStream, { last_by_subj: deadLetterSubject(this.#queue, id) })
  }

  async #remove(seq: number): Promise<boolean> {
    try {
      await this.#jsm.streams.deleteMessage(this.#queue.deadLetterStream, seq, false)
      return true
    } catch (error) {
      // Not stored (any more): another redrive deleted it.
      if (isJetStreamError(error, JetStreamCode.StreamMessageDeleteFailed)) return false
      throw error
    }
  }

  #describe(stored: StoredMsg): DeadLetter {
    return describeDeadLetter(stored, this.#queue.deadLetterSubjectPrefix)
  }
}
