import type { FastifyInstance } from 'fastify'
import { InvalidRequestError } from './request-errors.ts'

/**
 * Refuses (400) a query string whose percent-encoding is malformed: a `%` not followed by two hex digits
 * (`%ZZ`), or escapes that do not decode to UTF-8 (`%C3` alone). The query parser takes such text
 * literally, so `?user_id=%C3` would enqueue the id `%C3`, which the client never meant; the router
 * already refuses the same in a path. Only URLs with a `%` in their query pay for the check.
 */
export function refuseMalformedQueries(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const url = request.raw.url ?? ''
    const query = url.indexOf('?')
    if (query === -1 || url.indexOf('%', query) === -1 || decodes(url.slice(query + 1))) {
      done()
      return
    }
    // Through the error handler, so it is answered and counted like every other invalid request.
    done(new InvalidRequestError('the query string is not valid percent-encoded UTF-8'))
  })
}

function decodes(query: string): boolean {
  try {
    decodeURIComponent(query)
    return true
  } catch {
    return false
  }
}
