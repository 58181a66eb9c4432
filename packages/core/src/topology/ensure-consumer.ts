import type { ConsumerConfig, ConsumerInfo, JetStreamManager } from '@nats-io/jetstream'
import type { Logger } from 'pino'
import { TopologyConflictError } from '../errors.ts'
import { isNotFound } from './ensure-stream.ts'
import { describeChanges, diffSettings } from './settings-diff.ts'

// The server rejects changing these on an existing consumer.
const IMMUTABLE_CONSUMER_FIELDS = ['ack_policy', 'deliver_policy', 'replay_policy'] as const satisfies readonly (keyof ConsumerConfig)[]
const MUTABLE_CONSUMER_FIELDS = ['ack_wait', 'max_deliver', 'max_ack_pending', 'filter_subject', 'backoff'] as const satisfies readonly (keyof ConsumerConfig)[]

/**
 * Creates the durable consumer, or brings an existing one to `wanted` (limits updated in place, changed
 * immutable settings refused by name). Safe to run from every worker at start-up.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  wanted: Partial<ConsumerConfig> & { durable_name: string },
  logger: Logger,
): Promise<ConsumerInfo> {
  const name = wanted.durable_name
  let existing: ConsumerInfo | undefined
  try {
    existing = await jsm.consumers.info(stream, name)
  } catch (error) {
    if (!isNotFound(error)) throw error
  }
  if (!existing) {
    // Consumer create is idempotent on the server for an identical config, so concurrent workers are fine.
    const created = await jsm.consumers.add(stream, wanted)
    logger.info({ stream, consumer: name }, 'consumer created')
    return created
  }
  const conflicts = diffSettings(existing.config, wanted, IMMUTABLE_CONSUMER_FIELDS)
  if (conflicts.length > 0) throw new TopologyConflictError(`consumer ${stream}/${name}`, describeChanges(conflicts))

  const changes = diffSettings(existing.config, { backoff: [], ...wanted }, MUTABLE_CONSUMER_FIELDS)
  if (changes.length === 0) return existing
  try {
    const updated = await jsm.consumers.update(stream, name, { ...pickMutable(wanted), backoff: [] })
    logger.info({ stream, consumer: name, changes: describeChanges(changes) }, 'consumer limits updated')
    return updated
  } catch (error) {
    throw new TopologyConflictError(`consumer ${stream}/${name}`, [...describeChanges(changes), (error as Error).message], { cause: error })
  }
}

function pickMutable(wanted: Partial<ConsumerConfig>): Partial<ConsumerConfig> {
  const picked: Partial<ConsumerConfig> = {}
  for (const field of MUTABLE_CONSUMER_FIELDS) {
    if (wanted[field] !== undefined) (picked as Record<string, unknown>)[field] = wanted[field]
  }
  return picked
}
