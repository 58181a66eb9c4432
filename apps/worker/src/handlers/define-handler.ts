import { JOB_TYPE_PATTERN, SluiceError } from '@sluice/core'
import type { HandlerDefinition, HandlerRegistry, JobHandler } from './job-handler.ts'

/** A handler definition or a handlers module is not usable; the worker stops at start-up with it. */
export class HandlerDefinitionError extends SluiceError {
  static readonly code = 'SLUICE_HANDLER_DEFINITION_INVALID'

  constructor(message: string, options?: ErrorOptions) {
    super(HandlerDefinitionError.code, message, options)
  }
}

/**
 * Defines the handler of one job type. `Payload` is what the handler may assume the payload is: declare the
 * same shape as the type's payload schema in JOB_TYPES_FILE, which the ingress and the worker check before
 * `run` is called.
 *
 * @example
 * export default [
 *   defineHandler<{ url: string }>('fetch-title', async ({ url }, { signal }) => {
 *     const page = await fetch(url, { signal })
 *     return { title: /<title>(.*?)<\/title>/.exec(await page.text())?.[1] ?? null }
 *   }),
 * ]
 */
export function defineHandler<Payload = unknown>(type: string, run: JobHandler<Payload>): HandlerDefinition {
  if (!JOB_TYPE_PATTERN.test(type)) throw new HandlerDefinitionError(`job type "${type}" must match ${JOB_TYPE_PATTERN}`)
  if (typeof run !== 'function') throw new HandlerDefinitionError(`the handler of job type "${type}" must be a function`)
  return { type, run: run as JobHandler }
}

/** The registry a worker runs: one handler per type; a type defined twice is an error. */
export function handlerRegistry(definitions: Iterable<HandlerDefinition>): HandlerRegistry {
  const registry = new Map<string, JobHandler>()
  for (const definition of definitions) {
    if (registry.has(definition.type)) throw new HandlerDefinitionError(`job type "${definition.type}" has two handlers`)
    registry.set(definition.type, definition.run)
  }
  return registry
}
