import { describe, expect, it } from 'vitest'
import { MsgHdrsImpl } from '@nats-io/nats-core'
import { JOB_ID_PATTERN, JobHeader, jobHeaders, readJob } from '../../packages/core/src/job-message.ts'

const PREFIX = 'jobs'
const idOf = (rest: string) => readJob(`${PREFIX}.${rest}`, PREFIX, undefined, new Uint8Array()).id

describe('job message', () => {
  it('job message - a subject carrying a valid id gives that id as it is', () => {
    for (const id of ['abc', 'order-42', 'a_b', 'Lo2C777NJfpFCDZkuJFvzp', 'x'.repeat(128)]) expect(idOf(id)).toBe(id)
  })

  // Any NATS client may publish under the prefix (`nats pub jobs.a.b`); every such rest must still give an
  // id the state bucket and the API take, the same one each time it is read, and never another job's.
  it.each([
    ['dots', 'a.b'],
    ['more dots', 'a.b.c'],
    ['non-ASCII', 'é'],
    ['an emoji', 'job-😀'],
    ['too long', 'y'.repeat(129)],
    ['very long with dots', 'z.'.repeat(500)],
  ])('job message - a subject with %s maps to a valid, stable id', (_case, rest) => {
    const id = idOf(rest)
    expect(id).toMatch(JOB_ID_PATTERN)
    expect(idOf(rest)).toBe(id)
  })

  it('job message - mapped ids stay readable and never collide with each other or with valid ids', () => {
    expect(idOf('a.b')).toMatch(/^a_b-[A-Za-z0-9_-]{22}$/)
    const rests = ['a.b', 'a_b', 'a.b.c', 'a_b_c', 'a.b_c', 'é', 'è', 'y'.repeat(129), 'y'.repeat(130)]
    expect(new Set(rests.map(idOf)).size).toBe(rests.length)
  })

  // jobHeaders fills the header map directly (it skips the client's set()): what goes on the wire must
  // still read back as the client encodes and decodes headers.
  it('job message - headers encode to the wire and decode back to every field given, none absent', () => {
    const fields = { id: 'a1', type: 'user', queuedAt: '2026-11-30T00:00:00.000Z', fingerprint: 'f', owner: 'team-a', runAt: '2026-12-01T00:00:00.000Z' }
    const decoded = MsgHdrsImpl.decode((jobHeaders(fields) as MsgHdrsImpl).encode())
    expect(decoded.get(JobHeader.id)).toBe('a1')
    expect(decoded.get(JobHeader.type)).toBe('user')
    expect(decoded.get(JobHeader.queuedAt)).toBe(fields.queuedAt)
    expect(decoded.get(JobHeader.fingerprint)).toBe('f')
    expect(decoded.get(JobHeader.owner)).toBe('team-a')
    expect(decoded.get(JobHeader.runAt)).toBe(fields.runAt)
    expect(decoded.has(JobHeader.callbackUrl)).toBe(false)
    expect(MsgHdrsImpl.decode((jobHeaders({ ...fields, dedupeId: 'redrive-1' }) as MsgHdrsImpl).encode()).get(JobHeader.id)).toBe('redrive-1')
  })

  it('job message - a header value with a line break is refused, as the client refuses it', () => {
    expect(() => jobHeaders({ id: 'a1', type: 'user', queuedAt: 'x', owner: 'a\r\nNats-Msg-Id: b' })).toThrow(/\\r or \\n/)
  })
})
