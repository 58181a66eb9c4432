import { execFileSync } from 'node:child_process'

let reachable: boolean | undefined

/** Whether a Docker engine answers (not just a client on PATH). Cached for the test process. */
export function dockerReachable(): boolean {
  if (reachable !== undefined) return reachable
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 5000 })
    reachable = true
  } catch {
    reachable = false
  }
  return reachable
}

/** Why Docker-backed tests are skipped here, for skip messages. */
export const NO_DOCKER_REASON = 'no Docker engine answers `docker info` on this machine (testcontainers needs one)'
