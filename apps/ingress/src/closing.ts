import type { FastifyInstance } from 'fastify'
import { IngressClosingError } from './request-errors.ts'

/**
 * Refuses the requests that still arrive while the app closes (on kept-alive connections; the listener
 * takes no new ones) with a 503 problem+json, Retry-After and `connection: close`, through the error
 * handler like every other answer. The framework's own `return503OnClosing` answers before any hook,
 * with a JSON body of its own and no Retry-After; the app turns it off.
 *
 * Call first, before any other `onRequest` hook: a closing app answers nothing else.
 */
export function refuseWhileClosing(app: FastifyInstance): void {
  let closing = false
  // One refusal serves them all: it says the same every time.
  const refusal = new IngressClosingError()
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done()
    reply.header('connection', 'close')
    done(refusal)
  })
}
