import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import { deadLetterSubject, type JobStatusStore, type QueueConfig } from '@sluice/core'
import type { JobPublisher } from '../job-publisher.ts'
import { describeDeadLetter, type DeadLetter } from './dead-letter.ts'

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

  /** The dead letter of job `id`, if there is one. */
  async find(id: string): Promise<DeadLetter | undefined> {
    const stored = await this.#stored(id)
    return stored ? this.#describe(stored) : undefined
  }

  /**
   * Puts job `id` back in the queue (same id, payload and type; attempts start again) and removes it from
   * the dead letters. Safe to repeat: the republish is de-duplicated by the dead letter's sequence.
   * Resolves false when there is no such dead letter; rejects with the queue errors (for example full).
   */
  async redrive(id: string): Promise<boolean> {
    const stored = await this.#stored(id)
    if (!stored) return false
    const letter = this.#describe(stored)
    const queuedAt = new Date().toISOString()
    // The state goes first: a worker may finish the job before a later write would land, and `queued`
    // must not overwrite its outcome.
    await this.#statusStore.put({ id, type: letter.type, state: 'queued', attempts: 0, queuedAt, updatedAt: queuedAt }).catch(() => undefined)
    try {
      await this.#publisher.publish({ id, type: letter.type, queuedAt, payload: stored.data, dedupeId: `${id}-redrive-${stored.seq}` })
    } catch (error) {
      const now = new Date().toISOString()
      await this.#statusStore
        .put({ id, type: letter.type, state: 'dead', attempts: letter.attempts, queuedAt: letter.queuedAt, error: letter.error, finishedAt: letter.deadAt, updatedAt: now })
        .catch(() => undefined)
      throw error
    }
    await this.#jsm.streams.deleteMessage(this.#queue.deadLetterStream, stored.seq, false)
    return true
  }

  async #stored(id: string): Promise<StoredMsg | null> {
    return this.#jsm.streams.getMessage(this.#queue.deadLetterStream, { last_by_subj: deadLetterSubject(this.#queue, id) })
  }

  #describe(stored: StoredMsg): DeadLetter {
    return describeDeadLetter(stored, this.#queue.deadLetterSubjectPrefix)
  }
}
