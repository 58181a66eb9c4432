import type { JsMsg } from '@nats-io/jetstream'
import { headers } from '@nats-io/nats-core'
import { JobHeader } from '@sluice/core'
import { describe, expect, it } from 'vitest'
import { decideScheduled } from '../../apps/worker/src/scheduled-delivery.ts'

const NOW = Date.parse('2026-11-30T12:00:00.000Z')

function delivery(deliveryCount: number, runAt: string | undefined): JsMsg {
  const h = headers()
  if (runAt !== undefined) h.set(JobHeader.runAt, runAt)
  return { info: { deliveryCount }, headers: h } as unknown as JsMsg
}

const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString()

describe('scheduled delivery', () => {
  // Each case: delivery count, due time, ack_wait, and what the worker does.
  const cases: [string, number, string | undefined, number, ReturnType<typeof decideScheduled>][] = [
    ['a first delivery before its time waits for the rest of it', 1, at(5000), 30_000, { kind: 'wait', delayMs: 5000 }],
    ['a first delivery already due still waits (0 ms): every later delivery is an attempt', 1, at(-2000), 30_000, { kind: 'wait', delayMs: 0 }],
    ['a later delivery at or after its time runs', 2, at(-1), 30_000, { kind: 'run', holdMs: 0 }],
    ['a retry (a later delivery still) runs', 4, at(-60_000), 30_000, { kind: 'run', holdMs: 0 }],
    ['a later delivery up to 1 s early (a restarted server, another clock) is held until due', 2, at(600), 30_000, { kind: 'run', holdMs: 600 }],
    ['but never for half ack_wait or more', 2, at(600), 1000, { kind: 'wait', delayMs: 600 }],
    ['a later delivery further ahead (its first holder was lost) waits again', 2, at(5000), 30_000, { kind: 'wait', delayMs: 5000 }],
    ['a job without a due time (another client published it) is due now', 2, undefined, 30_000, { kind: 'run', holdMs: 0 }],
    ['and a malformed one too', 2, 'soon', 30_000, { kind: 'run', holdMs: 0 }],
  ]
  for (const [name, count, runAt, ackWaitMs, expected] of cases) {
    it(`scheduled delivery - ${name}`, () => {
      expect(decideScheduled(delivery(count, runAt), NOW, ackWaitMs)).toEqual(expected)
    })
  }
})
