import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { expect } from 'vitest'
import { eventually } from './eventually.ts'

/** `POST <baseUrl>/v1/jobs` with `{type, payload}`: the answer as it came (for tests of refusals). */
export function postJob(baseUrl: string, type: string, payload: unknown): Promise<Response> {
  return fetch(`${baseUrl}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, payload }) })
}

/** {@link postJob} that must be accepted (202): resolves the job's id. */
export async function submittedJob(baseUrl: string, type: string, payload: unknown): Promise<string> {
  const response = await postJob(baseUrl, type, payload)
  expect(response.status).toBe(202)
  return ((await response.json()) as { id: string }).id
}

/** `GET <baseUrl>/v1/jobs/<id>` until the job has ended as `succeeded` or `dead`: resolves that state. */
export function settledJob(baseUrl: string, id: string): Promise<Record<string, unknown>> {
  return eventually(`job ${id} to settle`, async () => {
    const status = (await (await fetch(`${baseUrl}/v1/jobs/${id}`)).json()) as Record<string, unknown>
    return status.state === 'succeeded' || status.state === 'dead' ? status : undefined
  })
}

/**
 * `POST /v1/jobs` through `app.inject` with `id` as its Idempotency-Key: a `stamp` job (empty payload) with
 * `schedule` (`delayMs`, `runAt`) spread into the body, for the delayed-job suites.
 */
export function injectStampJob(app: FastifyInstance, id: string, schedule: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { 'content-type': 'application/json', 'idempotency-key': id },
    payload: { type: 'stamp', payload: {}, ...schedule },
  })
}
