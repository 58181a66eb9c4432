import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JobTypes, JobTypesFileError } from '@sluice/core'
import { defineHandler, HandlerDefinitionError, handlerRegistry, loadHandlersModule } from '@sluice/worker'
import { describe, expect, it } from 'vitest'

describe('job types file', () => {
  it.each([
    // Each case: a document the ingress and worker must refuse at start-up, and the words that say why.
    [{ kinds: {} }, 'must be an object with a "types" object'],
    [{ types: {} }, 'lists no job types'],
    [{ types: { 'bad type': {} } }, 'type "bad type" must match'],
    [{ types: { greet: [] } }, 'type "greet" must be an object'],
    [{ types: { greet: { schema: {} } } }, 'type "greet" has unknown keys: schema'],
    // Strict mode: a keyword Ajv does not know is a mistake, not something to ignore.
    [{ types: { greet: { payload: { type: 'object', requried: ['name'] } } } }, 'the payload schema of type "greet" is not valid'],
    [{ types: { greet: { payload: { type: 'no-such-type' } } } }, 'the payload schema of type "greet" is not valid'],
  ])('job types file - %j is refused', (document, problem) => {
    expect(() => JobTypes.fromDocument(document, 'types.json')).toThrow(JobTypesFileError)
    expect(() => JobTypes.fromDocument(document, 'types.json')).toThrow(problem)
  })

  it('job types file - a file that is not JSON is refused, naming the file', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sluice-types-')), 'types.json')
    writeFileSync(path, '{ "types": ')
    expect(() => JobTypes.load(path)).toThrow(`job types file ${path}: is not JSON`)
  })

  it('job types file - a type without a schema takes any payload; one with a schema names the first problem by its place', () => {
    const types = JobTypes.fromDocument({
      types: { any: {}, greet: { payload: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } },
    })
    expect(types.names).toEqual(['any', 'greet'])
    expect(types.payloadProblem('any', [1, 'two'])).toBeUndefined()
    expect(types.payloadProblem('greet', { name: 'Ada' })).toBeUndefined()
    expect(types.payloadProblem('greet', {})).toEqual({ path: '', message: "must have required property 'name'" })
    expect(types.payloadProblem('greet', { name: 1 })).toEqual({ path: '/name', message: 'must be string' })
  })
})

describe('handlers module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-handlers-'))
  const moduleWith = (name: string, source: string) => {
    const path = join(dir, name)
    writeFileSync(path, source)
    return path
  }

  it.each([
    ['no-default.mjs', 'export const handlers = []', 'must export a non-empty array of defineHandler(...) results as its default'],
    ['empty.mjs', 'export default []', 'must export a non-empty array'],
    ['not-definitions.mjs', 'export default [async () => {}]', 'item 0 of its default export is not a defineHandler(...) result'],
    ['throws.mjs', "throw new Error('broken at import')", 'cannot be imported: broken at import'],
  ])('handlers module - %s is refused at start-up', async (name, source, problem) => {
    const loading = loadHandlersModule(moduleWith(name, source))
    await expect(loading).rejects.toThrow(HandlerDefinitionError)
    await expect(loadHandlersModule(join(dir, name))).rejects.toThrow(problem)
  })
})

describe('handler definitions', () => {
  it('handler definitions - a type that is not a valid job type, or two handlers for one type, are refused', () => {
    expect(() => defineHandler('bad type', async () => {})).toThrow('job type "bad type" must match')
    const greet = defineHandler('greet', async () => {})
    expect(() => handlerRegistry([greet, defineHandler('greet', async () => {})])).toThrow('job type "greet" has two handlers')
    expect([...handlerRegistry([greet]).keys()]).toEqual(['greet'])
  })
})
