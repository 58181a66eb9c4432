import { createServer, type Server } from 'node:net'

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })
}

/**
 * `count` distinct TCP ports on 127.0.0.1 that were free a moment ago. All are held open together so no
 * two are the same; the gap before a server binds them is a small race tests accept.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnAnyPort())
    return servers.map((server) => {
      const address = server.address()
      if (!address || typeof address !== 'object') throw new Error('no port assigned')
      return address.port
    })
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  }
}

/** One TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freeLoopbackPorts(1)
  return port!
}
