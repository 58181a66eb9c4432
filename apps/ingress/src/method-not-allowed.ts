import type { FastifyInstance } from 'fastify'
import { ProblemType, sendProblem } from './problem.ts'

/**
 * Answers a method that a known path does not take with 405 and `Allow` (RFC 9110 15.5.6), where the
 * router alone answers 404, as if the path did not exist.
 *
 * Call it before the routes are added: it records each path's methods as they are. Call the function it
 * returns after the last route: it adds one hidden route per path for every other method the framework
 * routes (TRACE, OPTIONS, QUERY and the rest). That route answers in `onRequest`, before a body is read
 * or its content type checked, and needs no API key: the methods a path takes are in the public
 * OpenAPI document anyway.
 */
export function methodNotAllowed(app: FastifyInstance): () => void {
  const methodsByPath = new Map<string, Set<string>>()
  let closed = false
  app.addHook('onRoute', (route) => {
    if (closed) return
    const methods = methodsByPath.get(route.url) ?? new Set<string>()
    for (const method of [route.method].flat()) methods.add(method)
    methodsByPath.set(route.url, methods)
  })
  return () => {
    closed = true
    for (const [url, methods] of methodsByPath) {
      // In the framework's order, which puts GET and HEAD first.
      const allow = app.supportedMethods.filter((method) => methods.has(method)).join(', ')
      const others = app.supportedMethods.filter((method) => !methods.has(method))
      if (others.length === 0) continue
      app.route({
        method: others,
        url,
        exposeHeadRoute: false,
        schema: { hide: true },
        config: { scope: 'public' },
        onRequest: async (request, reply) => {
          reply.header('allow', allow)
          return sendProblem(reply, ProblemType.methodNotAllowed, `${request.method} is not allowed here; this path takes ${allow}`)
        },
        // Never reached: the hook above has answered.
        handler: async () => undefined,
      })
    }
  }
}
