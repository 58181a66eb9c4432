import { jetstream } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { applyQueueStreams, createLogger, JobStatusStore, PipelinedPublisher, type JobState, type JobStatus } from '@sluice/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv } from '../support/queue-env.ts'

const logger = createLogger('test', { level: 'silent' })
const queuedAt = '2026-01-01T00:00:00.000Z'

function status(id: string, state: JobState, attempts: number): JobStatus {
  return { id, type: 'user', state, attempts, queuedAt, updatedAt: new Date().toISOString() }
}

describe('job status store', () => {
  let server: NatsServerFixture
  let nc: NatsConnection
  let store: JobStatusStore
  let bucket: string

  beforeAll(async () => {
    server = await startNatsServer()
    nc = await connect({ servers: server.url })
    const queue = ingressConfigFor(queueEnv(server.url)).queue
    await applyQueueStreams(nc, queue, logger)
    bucket = queue.statusBucket
    store = await JobStatusStore.open(jetstream(nc), bucket)
  })
  afterAll(async () => {
    await nc?.close()
    await server?.close()
  })

  it('job status store - advance writes a newer state and refuses an older one', async () => {
    const running = await store.advance(status('a', 'running', 1))
    const succeeded = await store.advance(status('a', 'succeeded', 1))
    expect(running).toBeGreaterThan(0)
    expect(succeeded).toBeGreaterThan(running!)
    expect(await store.advance(status('a', 'running', 1))).toBeUndefined()
    expect(await store.get('a')).toMatchObject({ state: 'succeeded', attempts: 1 })
  })

  it.each(['a KV request', 'a pipelined publish (as workers write)'])(
    'job status store - replace, by %s, writes over the revision it names (0: none yet), and is refused over a state it has not seen',
    async (how) => {
      const id = how === 'a KV request' ? 'replace-kv' : 'replace-pipelined'
      const publisher = how === 'a KV request' ? undefined : new PipelinedPublisher(nc, 5000)
      const writer = publisher ? await JobStatusStore.open(jetstream(nc), bucket, publisher) : store
      try {
        const first = await writer.replace(status(id, 'running', 1), 0)
        const second = await writer.replace(status(id, 'succeeded', 1), first)
        expect(second).toBeGreaterThan(first)
        // Another writer got in between (as a cancel does): a write over the older revision, or as the first, is refused.
        await expect(writer.replace(status(id, 'failed', 1), first)).rejects.toThrow()
        await expect(writer.replace(status(id, 'failed', 1), 0)).rejects.toThrow()
        expect(await store.get(id)).toMatchObject({ state: 'succeeded' })
      } finally {
        publisher?.close()
      }
    },
  )

  it('job status store - racing writers of one job: the most advanced state is what stays, in any order', async () => {
    for (let round = 0; round < 10; round++) {
      const id = `race-${round}`
      const writes = [status(id, 'running', 1), status(id, 'failed', 1), status(id, 'running', 2), status(id, 'succeeded', 2)]
      // Shuffled and all in flight at once: each compare-and-set must decide on what the others wrote.
      writes.sort(() => Math.random() - 0.5)
      await Promise.all(writes.map((write) => store.advance(write)))
      expect(await store.get(id)).toMatchObject({ state: 'succeeded', attempts: 2 })
    }
  })

  it('job status store - a value another client wrote that is not a state counts as none, and is overwritten', async () => {
    await jetstream(nc).publish(`$KV.${bucket}.junk`, 'not a state')
    expect(await store.get('junk')).toBeUndefined()
    expect(await store.advance(status('junk', 'running', 1))).toBeGreaterThan(0)
    expect(await store.get('junk')).toMatchObject({ state: 'running' })
  })
})
