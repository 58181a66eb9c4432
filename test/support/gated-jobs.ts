import { defineHandler, type HandlerRegistry, handlerRegistry } from '@sluice/worker'

/**
 * Handlers with one job type, `gated`, whose handler runs until the test opens its gate (or the job's signal
 * aborts): for tests that need a job held running. `release` holds the gate of each job whose handler runs.
 */
export function gatedJobs(): { readonly handlers: HandlerRegistry; readonly release: ReadonlyMap<string, () => void> } {
  const release = new Map<string, () => void>()
  const handlers = handlerRegistry([
    defineHandler('gated', async (_payload, { job, signal }) => {
      await new Promise<void>((resolve) => {
        release.set(job.id, resolve)
        signal.addEventListener('abort', () => resolve(), { once: true })
      })
      return { released: true }
    }),
  ])
  return { handlers, release }
}
