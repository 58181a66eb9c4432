import type { JetStreamManager, StreamConfig, StreamInfo } from '@nats-io/jetstream'
import type { Logger } from 'pino'
import { TopologyConflictError } from '../errors.ts'
import { isJetStreamError, JetStreamCode } from '../jetstream-codes.ts'
import { describeChanges, diffSettings } from './settings-diff.ts'

// The server refuses to change these in place (retention to/from WorkQueue, storage type).
const IMMUTABLE_STREAM_FIELDS = ['retention', 'storage'] as const satisfies readonly (keyof StreamConfig)[]
// Limits an operator tunes at run time; a changed value is applied with a stream update.
const MUTABLE_STREAM_FIELDS = [
  'subjects',
  'max_msgs',
  'max_bytes',
  'max_age',
  'max_msg_size',
  'discard',
  'num_replicas',
  'duplicate_window',
  'allow_direct',
] as const satisfies readonly (keyof StreamConfig)[]

/**
 * Creates the stream, or brings an existing one to `wanted`: changed limits are updated in place, and a
 * changed immutable setting fails with a `TopologyConflictError` naming it. Safe to run from many pods.
 */
export async function ensureStream(jsm: JetStreamManager, wanted: Partial<StreamConfig> & { name: string }, logger: Logger): Promise<StreamInfo> {
  const existing = await findStream(jsm, wanted.name)
  if (!existing) {
    try {
      const created = await jsm.streams.add(wanted)
      logger.info({ stream: wanted.name }, 'stream created')
      return created
    } catch (error) {
      // Another pod created it between our lookup and our add: reconcile against theirs.
      if (isJetStreamError(error, JetStreamCode.StreamNameInUse)) return ensureStream(jsm, wanted, logger)
      throw error
    }
  }
  const conflicts = diffSettings(existing.config, wanted, IMMUTABLE_STREAM_FIELDS)
  if (conflicts.length > 0) throw new TopologyConflictError(`stream ${wanted.name}`, describeChanges(conflicts))

  const changes = diffSettings(existing.config, wanted, MUTABLE_STREAM_FIELDS)
  if (changes.length === 0) return existing
  try {
    const updated = await jsm.streams.update(wanted.name, { ...existing.config, ...wanted })
    logger.info({ stream: wanted.name, changes: describeChanges(changes) }, 'stream limits updated')
    return updated
  } catch (error) {
    // The server has the last word on what can change (for example replicas on a single server).
    throw new TopologyConflictError(`stream ${wanted.name}`, [...describeChanges(changes), (error as Error).message], { cause: error })
  }
}

/** The stream's info, or undefined when it does not exist. */
export async function findStream(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name)
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

/** True for JetStream's "stream not found" and "consumer not found" answers. */
export function isNotFound(error: unknown): boolean {
  return isJetStreamError(error, JetStreamCode.StreamNotFound) || isJetStreamError(error, JetStreamCode.ConsumerNotFound)
}
