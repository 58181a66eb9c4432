// A handlers module: the worker imports it when WORKER_HANDLERS_MODULE names it, and runs each job with the
// handler of its type. The payload shapes below are the ones job-types.json gives as JSON Schema; the ingress
// and the worker check every payload against that file before a handler sees it.
import { defineHandler, PermanentJobError } from '@sluice/worker'

interface GreetPayload {
  readonly name: string
}

interface WordCountPayload {
  readonly text: string
}

export default [
  // What a handler returns is the job's `result` in GET /v1/jobs/<id>.
  defineHandler<GreetPayload>('greet', async ({ name }, { logger }) => {
    logger.info({ name }, 'greeting')
    return { greeting: `Hello, ${name}!` }
  }),

  defineHandler<WordCountPayload>('word-count', async ({ text }) => {
    const words = text.split(/\s+/).filter(Boolean)
    // No retry would change this answer: dead-letter the job at once instead of retrying it.
    if (words.length === 0) throw new PermanentJobError('the text has no words')
    return { words: words.length }
  }),

  // Returns its payload: a result larger than JOB_RESULT_MAX_BYTES fails the attempt.
  defineHandler('echo', async (payload) => payload),
]
