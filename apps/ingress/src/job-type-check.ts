import type { JobTypes } from '@sluice/core'
import { InvalidRequestError } from './request-errors.ts'

/**
 * Refuses, before it is queued, a job no worker would run: a type the job types file (JOB_TYPES_FILE) does
 * not list, or a payload that breaks its type's schema. Without the file every type is taken, as the
 * ingress cannot know which ones the workers handle. The refusal is returned, as every refusal is.
 */
export function jobTypeRefusal(jobTypes: JobTypes | undefined, type: string, payload: unknown): InvalidRequestError | undefined {
  if (!jobTypes) return undefined
  if (!jobTypes.has(type)) return new InvalidRequestError(`unknown job type "${type}"; the known types are: ${jobTypes.names.join(', ')}`)
  const problem = jobTypes.payloadProblem(type, payload)
  if (problem) return new InvalidRequestError(`body/payload${problem.path} ${problem.message} (the schema of job type "${type}")`)
  return undefined
}
