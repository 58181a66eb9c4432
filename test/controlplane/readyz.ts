import { readFile } from 'node:fs/promises'
import { request } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ManagedProcess } from '../support/managed-process.ts'
import type { ControlPlanePki } from './pki.ts'

// Short, because kube-apiserver usually gets ready within seconds and every poll saved is start-up time.
const pollIntervalMs = 100

/** GET `url` with the admin client certificate; resolves with the status code (0 when unreachable). */
function probe(url: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, method: 'GET', timeout: 2_000 }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.once('timeout', () => req.destroy())
    req.once('error', () => resolve(0))
    req.end()
  })
}

/**
 * Polls kube-apiserver's `/readyz` until it answers 200. Fails as soon as one of `processes` exits, or at
 * `deadline` (epoch ms), with the tail of the relevant log in the message.
 */
export async function waitForReadyz(server: string, pki: ControlPlanePki, deadline: number, processes: readonly ManagedProcess[]): Promise<void> {
  const tls = {
    ca: await readFile(pki.caCert),
    cert: await readFile(pki.adminCert),
    key: await readFile(pki.adminKey),
  }
  let lastStatus = 0
  for (;;) {
    const dead = processes.find((managed) => managed.exit() !== undefined)
    if (dead) {
      const exit = dead.exit()
      throw new Error(`${dead.name} exited during start-up (code ${exit?.code}, signal ${exit?.signal}); ${dead.logPath}:\n${dead.logTail()}`)
    }
    lastStatus = await probe(`${server}/readyz`, tls)
    if (lastStatus === 200) return
    if (Date.now() >= deadline) {
      const apiserver = processes.find((managed) => managed.name === 'kube-apiserver')
      throw new Error(`${server}/readyz not ready before the deadline (last status ${lastStatus}); ${apiserver?.logPath}:\n${apiserver?.logTail()}`)
    }
    await sleep(pollIntervalMs)
  }
}
