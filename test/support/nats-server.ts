import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { dockerReachable } from './docker.ts'
import { freeLoopbackPorts } from './free-port.ts'
import { startManagedProcess, type ManagedProcess } from './managed-process.ts'
import { findExecutable, orphanGuard, pinnedVersion } from './repo-paths.ts'

/** A NATS server for one test suite. */
export interface NatsServerFixture {
  /** Client URL. */
  readonly url: string
  /** Where it came from: an external `NATS_URL`, a local binary, or a container. */
  readonly source: 'external' | 'binary' | 'container'
  /** Whether stop/kill/restart/pause work (only for a local binary). */
  readonly controllable: boolean
  /** The server's log so far (local binary only). */
  log(): string
  /** Graceful stop (SIGTERM). */
  stop(): Promise<void>
  /** SIGKILL: no chance to flush anything. */
  kill(): Promise<void>
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>
  /** SIGSTOP: the server keeps its sockets but answers nothing (a hung server). */
  pause(): void
  /** SIGCONT after `pause`. */
  resume(): void
  /** Stops it and removes its store. */
  close(): Promise<void>
}

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Extra nats-server configuration (auth, TLS); needs a local binary. Listen ports and the store stay the fixture's. */
  readonly config?: string
  /** URL scheme clients should use (`tls` when the config turns TLS on). */
  readonly scheme?: 'nats' | 'tls'
}

/** Why fault tests skip when the server is not ours to control. */
export const NOT_CONTROLLABLE_REASON = 'NATS_URL points at an external server, which tests cannot stop or restart'

/**
 * Starts nats-server with JetStream on free loopback ports and its own store directory. Prefers
 * `NATS_URL` (an external server: tests then use unique names and skip fault injection), then a local
 * binary (`NATS_SERVER_BIN`, `.tools/bin/nats-server`, `nats-server` on PATH), then testcontainers when
 * a Docker engine is reachable.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerFixture> {
  const external = process.env.NATS_URL
  if (external && options.config === undefined) return externalServer(external)
  const binary = findBinary()
  if (binary) return binaryServer(binary, options)
  if (options.config !== undefined) throw new Error('a nats-server configuration needs a local nats-server binary')
  if (dockerReachable()) return containerServer()
  throw new Error('no nats-server: run `make tools` (builds the pinned one into .tools/bin), set NATS_SERVER_BIN, or set NATS_URL')
}

/** The local nats-server binary: `NATS_SERVER_BIN`, `.tools/bin/nats-server`, then `PATH`; undefined when none. */
export function findBinary(): string | undefined {
  return findExecutable('NATS_SERVER_BIN', 'nats-server')
}

function notControllable(): never {
  throw new Error(NOT_CONTROLLABLE_REASON)
}

/** A server we can reach but not fault: every fault method throws NOT_CONTROLLABLE_REASON. */
function uncontrollableServer(url: string, source: 'external' | 'container', close: () => Promise<void>): NatsServerFixture {
  return {
    url,
    source,
    controllable: false,
    log: () => '',
    stop: async () => notControllable(),
    kill: async () => notControllable(),
    restart: async () => notControllable(),
    pause: () => notControllable(),
    resume: () => notControllable(),
    close,
  }
}

function externalServer(url: string): NatsServerFixture {
  return uncontrollableServer(url, 'external', async () => undefined)
}

async function binaryServer(binary: string, options: NatsServerOptions): Promise<NatsServerFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-nats-'))
  // Both at once: two separate look-ups may return the same port, and the server then fails to bind.
  const [port, monitorPort] = (await freeLoopbackPorts(2)) as [number, number]
  const configArgs: string[] = []
  if (options.config !== undefined) {
    writeFileSync(join(dir, 'nats.conf'), options.config)
    configArgs.push('-c', join(dir, 'nats.conf'))
  }
  let generation = 0
  let server: ManagedProcess
  const launch = async (): Promise<void> => {
    generation++
    server = startManagedProcess({
      name: 'nats-server',
      command: binary,
      args: [...configArgs, '-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-sd', join(dir, 'store'), '-n', `sluice-test-${port}`],
      logPath: join(dir, `nats-${generation}.log`),
      ...orphanGuard(),
    })
    await waitHealthy(monitorPort, server)
  }
  await launch()
  return {
    url: `${options.scheme ?? 'nats'}://127.0.0.1:${port}`,
    source: 'binary',
    controllable: true,
    log: () => server.log(),
    stop: async () => {
      await server.stop()
    },
    kill: async () => {
      server.signal('SIGKILL')
      await server.exited
    },
    restart: launch,
    pause: () => server.signal('SIGSTOP'),
    resume: () => server.signal('SIGCONT'),
    close: async () => {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function waitHealthy(monitorPort: number, server: ManagedProcess): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (server.exit()) throw new Error(`nats-server exited: ${server.logTail()}`)
    try {
      const response = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`)
      if (response.ok) return
    } catch {
      // Not listening yet.
    }
    await sleep(50)
  }
  throw new Error(`nats-server did not become healthy: ${server.logTail()}`)
}

/** A nats-server in a container (testcontainers), at the pinned version. Needs a Docker engine. */
export async function containerServer(): Promise<NatsServerFixture> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const tag = pinnedVersion('NATS_SERVER_VERSION').replace(/^v/, '')
  const container = await new GenericContainer(`nats:${tag}-alpine`)
    .withCommand(['-js', '-m', '8222'])
    .withExposedPorts(4222, 8222)
    .withWaitStrategy(Wait.forHttp('/healthz?js-enabled-only=true', 8222))
    .start()
  return uncontrollableServer(`nats://${container.getHost()}:${container.getMappedPort(4222)}`, 'container', async () => {
    await container.stop()
  })
}
