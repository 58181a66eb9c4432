import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { HandlerDefinitionError } from './define-handler.ts'
import type { HandlerDefinition } from './job-handler.ts'

/**
 * Imports the handlers module WORKER_HANDLERS_MODULE names (a path, relative to the working directory): its
 * default export is an array of {@link defineHandler} results. Node runs a `.ts` module as it is, by
 * stripping its types, as it runs Sluice itself.
 */
export async function loadHandlersModule(path: string): Promise<HandlerDefinition[]> {
  let module: { default?: unknown }
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown }
  } catch (error) {
    throw new HandlerDefinitionError(`the handlers module ${path} cannot be imported: ${(error as Error).message}`, { cause: error })
  }
  const definitions = module.default
  if (!Array.isArray(definitions) || definitions.length === 0) {
    throw new HandlerDefinitionError(`the handlers module ${path} must export a non-empty array of defineHandler(...) results as its default`)
  }
  for (const [index, definition] of definitions.entries()) {
    const { type, run } = (definition ?? {}) as Partial<HandlerDefinition>
    if (typeof type !== 'string' || typeof run !== 'function') {
      throw new HandlerDefinitionError(`the handlers module ${path}: item ${index} of its default export is not a defineHandler(...) result`)
    }
  }
  return definitions as HandlerDefinition[]
}
