import type { FastifyInstance } from 'fastify'
import { InvalidRequestError } from './request-errors.ts'

/**
 * Deepest nesting of arrays and objects in a JSON text, found in one pass without parsing, so a body
 * nested thousands deep is refused before the parser (and every later `JSON.stringify`) walks it.
 */
export function jsonDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth)
    else if (c === 0x5d || c === 0x7d) depth--
  }
  return deepest
}

/** Replaces the JSON body parser with one that refuses bodies nested deeper than `maxDepth` (400). */
export function limitJsonDepth(app: FastifyInstance, maxDepth: number): void {
  // Fastify's own parser stays in charge of the parsing. Keys named `__proto__` and `constructor` are
  // kept as the plain data they are: `JSON.parse` makes them own properties, which change no prototype,
  // and a payload is only ever serialised again, never merged into another object. Refusing them made
  // such a payload a 400 "not valid JSON", which it is; at the top level of a body the schema refuses
  // them by name, as unknown fields.
  const parse = app.getDefaultJsonParser('ignore', 'ignore')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonDepth(body as string) > maxDepth) {
      done(new InvalidRequestError(`JSON nested deeper than ${maxDepth} levels (JOB_MAX_DEPTH)`), undefined)
      return
    }
    parse(request, body as string, done)
  })
}
