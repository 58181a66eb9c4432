import type { FastifyInstance, preParsingHookHandler } from 'fastify'
import type { JobPublisher } from './job-publisher.ts'

/**
 * Sheds submissions while the queue is known to refuse them (full within the hold, NATS disconnected,
 * too many publishes in flight): every route whose config says it `enqueues` gets, as its last
 * `preParsing` hook, one that hands the refusal to the error handler before the body is read, parsed
 * or validated. Under a flood that is nearly every request, and it then costs no body, no validation
 * and no publish.
 *
 * It sits in `preParsing`, which the framework runs after every `onRequest` hook, app-wide and per
 * route, whenever they were added (API keys, the rate limiter, security headers, the closing refusal):
 * whatever checks a request first still does, and the answer goes through the error handler and every
 * `onSend` and `onResponse` hook like any other. A route's own `preParsing` hooks run before it (the
 * seed's missing `user_id`).
 *
 * Call before the routes are added.
 */
export function shedWhileRefusing(app: FastifyInstance, publisher: JobPublisher): void {
  const shed: preParsingHookHandler = (_request, _reply, payload, done) => {
    const refusal = publisher.refusal()
    if (refusal) done(refusal)
    else done(null, payload)
  }
  app.addHook('onRoute', (route) => {
    if (route.config?.enqueues) route.preParsing = [...[route.preParsing ?? []].flat(), shed]
  })
}
