import { JetStreamApiError } from '@nats-io/jetstream'
import { errors as natsErrors } from '@nats-io/nats-core'
import { QueueFullError, QueueOverloadedError, QueueUnavailableError } from '@sluice/core'
import { toQueueError } from '@sluice/ingress'
import { describe, expect, it } from 'vitest'

// The server's answers are built the way the client library builds them from the wire; the live
// full-queue path is covered against a real server in seed-route and jobs-api tests.
function apiError(err_code: number, description: string): JetStreamApiError {
  return new JetStreamApiError({ code: 503, err_code, description })
}

describe('publish errors', () => {
  it('publish errors - stream limits (10077) mean the queue is full', () => {
    expect(toQueueError(apiError(10077, 'maximum messages exceeded'))).toBeInstanceOf(QueueFullError)
    expect(toQueueError(apiError(10077, 'maximum bytes exceeded'))).toBeInstanceOf(QueueFullError)
  })

  it('publish errors - ingest overload (10167) means slow down (429)', () => {
    expect(toQueueError(apiError(10167, 'server overloaded'))).toBeInstanceOf(QueueOverloadedError)
  })

  it('publish errors - timeouts, other API errors and anything unexpected mean unavailable (503)', () => {
    expect(toQueueError(new natsErrors.TimeoutError())).toBeInstanceOf(QueueUnavailableError)
    expect(toQueueError(apiError(10008, 'jetstream cluster not available'))).toBeInstanceOf(QueueUnavailableError)
    expect(toQueueError(new Error('boom'))).toBeInstanceOf(QueueUnavailableError)
  })
})
