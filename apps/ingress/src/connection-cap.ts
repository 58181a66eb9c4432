import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Caps the open connections from one remote address: past `max`, that address's new connections are
 * closed at once, so one client cannot take every slot `server.maxConnections` leaves. Counts are dropped
 * when an address's last connection closes, so the map holds only addresses with open sockets.
 */
export function capConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? ''
    const count = (open.get(address) ?? 0) + 1
    if (count > max) {
      socket.destroy()
      return
    }
    open.set(address, count)
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1
      if (left <= 0) open.delete(address)
      else open.set(address, left)
    })
  })
}
