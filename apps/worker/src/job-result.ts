import { UnusableResultError } from './handlers/job-errors.ts'

/**
 * Checks what a handler returned before it is recorded as the job's `result`: it must be JSON and at most
 * `maxBytes` in UTF-8. A result that does not fit fails the attempt rather than being cut: half a JSON
 * document is no result, and a silently shortened one is a wrong one.
 * @returns the value to record, or undefined for no result
 */
export function checkedResult(value: unknown, maxBytes: number): unknown {
  if (value === undefined) return undefined
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (error) {
    throw new UnusableResultError(`the result is not JSON: ${(error as Error).message}`, { cause: error })
  }
  if (json === undefined) throw new UnusableResultError(`the result is not JSON (a ${typeof value})`)
  const bytes = Buffer.byteLength(json)
  if (bytes > maxBytes) throw new UnusableResultError(`the result is ${bytes} bytes of JSON, over JOB_RESULT_MAX_BYTES (${maxBytes})`)
  // What is recorded is what a client will read: the JSON form, not the object (dates become strings).
  return JSON.parse(json) as unknown
}
