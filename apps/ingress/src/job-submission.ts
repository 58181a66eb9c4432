import { CALLBACK_URL_MAX_LENGTH, JOB_TYPE_PATTERN, type JobTypes } from '@sluice/core'
import { type AcceptOutcome, acceptJob } from './accept-job.ts'
import { dueTime, RUN_AT_PAST_TOLERANCE_MS } from './job-schedule.ts'
import { jobTypeRefusal } from './job-type-check.ts'
import type { QueueServices } from './plugins/queue-plugin.ts'
import { InvalidRequestError } from './request-errors.ts'

/** A job as a client submits it: the body of `POST /v1/jobs`, or one job of a batch. */
export interface SubmittedJob {
  readonly type: string
  readonly payload: unknown
  readonly callbackUrl?: string | undefined
  readonly delayMs?: number | undefined
  readonly runAt?: string | undefined
}

/**
 * The JSON Schema of a submitted job, one for both routes that take jobs: type and payload, `callbackUrl`
 * only where JOB_CALLBACK_ALLOWED_URLS allows some URLs (elsewhere it is an unknown field, a 400), and a
 * due time as `delayMs` or `runAt`, not both. `extra` adds properties (a batch job's `id`).
 */
export function submittedJobSchema(queue: QueueServices, extra: Record<string, object> = {}) {
  const callbackUrls = queue.callbacks.urls
  const callbackUrl = {
    type: 'string',
    maxLength: CALLBACK_URL_MAX_LENGTH,
    pattern: callbackUrls.pattern,
    description:
      "Called once with the job's final state (succeeded, dead or cancelled): a POST of the state as `GET /v1/jobs/<id>` answers it, signed when JOB_CALLBACK_SIGNING_SECRET is set, retried JOB_CALLBACK_ATTEMPTS times at most. It must start with a URL prefix JOB_CALLBACK_ALLOWED_URLS lists (this pattern), and stay under it once parsed (no dot segments climbing out).",
  }
  return {
    type: 'object',
    required: ['type', 'payload'],
    additionalProperties: false,
    // A job runs after a delay or at a time, not both.
    not: { required: ['delayMs', 'runAt'] },
    properties: {
      ...extra,
      type: { type: 'string', pattern: JOB_TYPE_PATTERN.source, description: 'Handler name; with JOB_TYPES_FILE set, one it lists' },
      payload: { description: "Any JSON value, handed to the handler as is; with JOB_TYPES_FILE set, it must fit its type's schema" },
      ...(callbackUrls.enabled ? { callbackUrl } : {}),
      delayMs: {
        type: 'integer',
        minimum: 0,
        maximum: queue.config.queue.jobMaxDelayMs,
        description: 'Run no earlier than this many ms from now (at most JOB_MAX_DELAY_MS); the job is `scheduled` until then. Not with `runAt`.',
      },
      runAt: {
        type: 'string',
        format: 'date-time',
        description: `Run no earlier than this time (RFC 3339): at most JOB_MAX_DELAY_MS ahead; up to ${RUN_AT_PAST_TOLERANCE_MS / 1000} s in the past runs at once, further back is 400. Not with \`delayMs\`.`,
      },
    },
  } as const
}

/**
 * Checks a job the schema let through on what the schema cannot know (the job types file, the callback
 * allow-list once the URL is parsed, the clock), then stores it (`acceptJob`). One path for every route that
 * takes jobs, so a check added here holds for all of them; a refusal comes back as a value, as in acceptJob.
 */
export async function submitJob(
  queue: QueueServices,
  route: string,
  jobTypes: JobTypes | undefined,
  job: SubmittedJob & { readonly id?: string | undefined; readonly owner?: string | undefined },
  nowMs: number,
): Promise<AcceptOutcome> {
  const invalid = jobTypeRefusal(jobTypes, job.type, job.payload)
  if (invalid) return { refused: invalid }
  const callback = job.callbackUrl === undefined ? undefined : queue.callbacks.urls.check(job.callbackUrl)
  if (callback?.refused !== undefined) return { refused: new InvalidRequestError(`body/callbackUrl ${callback.refused}`) }
  const runAt = dueTime(job, nowMs, queue.config.queue.jobMaxDelayMs)
  if (runAt instanceof InvalidRequestError) return { refused: runAt }
  return acceptJob(queue, route, { id: job.id, type: job.type, payload: job.payload, owner: job.owner, callbackUrl: callback?.url, runAt })
}
