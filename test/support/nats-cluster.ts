import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { eventually } from './eventually.ts'
import { freeLoopbackPorts } from './free-port.ts'
import { orphanGuard } from './repo-paths.ts'
import { startManagedProcess, type ManagedProcess } from './managed-process.ts'
import { findBinary as findNatsServerBinary } from './nats-server.ts'

/** One server of a {@link NatsCluster}. */
export interface ClusterNode {
  /** Server name (`-n`), as JetStream reports leaders. */
  readonly name: string
  readonly url: string
  readonly monitorPort: number
  /** Whether its process is running now. */
  running(): boolean
  /** SIGKILL: no chance to flush or step down; resolves once it exited. */
  kill(): Promise<void>
  /** Starts it again with the same ports, name and store; resolves once it answers its health check. */
  restart(): Promise<void>
  /** Its current log. */
  log(): string
}

/** A JetStream cluster of three nats-server processes on loopback. */
export interface NatsCluster {
  readonly nodes: readonly ClusterNode[]
  /** Every client URL, comma-separated, as `NATS_URL` takes them. */
  readonly url: string
  /** The server name leading `stream` now (asks the cluster through any live node). */
  leaderOf(stream: string): Promise<string | undefined>
  /** The node named `name`. */
  node(name: string): ClusterNode
  /** Stops every server and removes their stores. */
  close(): Promise<void>
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /**
   * Writes one server's configuration file (its `cluster { }` block: routes, their authorization) under
   * `dir` and returns its path; the server then takes its cluster settings from it instead of from flags.
   * `routePorts` are every server's route port, `clusterPort` this server's.
   */
  readonly clusterConfig?: (setup: {
    readonly dir: string
    readonly name: string
    readonly clusterName: string
    readonly clusterPort: number
    readonly routePorts: readonly number[]
  }) => string
}

/** Where a cluster's servers take routes, for a server that tries to join from outside. */
export interface NatsClusterRoutes {
  readonly name: string
  /** Route URLs, as `--routes` takes them. */
  readonly routes: string
}

/**
 * Starts three nats-servers with JetStream, routed to each other on free loopback ports, each with its own
 * store and name, and resolves once the cluster can place a replicated stream (its JetStream meta leader is
 * elected). Needs a local binary (see `findBinary` in nats-server.ts).
 */
export async function startNatsCluster(size = 3, options: NatsClusterOptions = {}): Promise<NatsCluster & NatsClusterRoutes> {
  const binary = findNatsServerBinary()
  if (!binary) throw new Error('no nats-server binary: run `make tools` or set NATS_SERVER_BIN')
  const dir = mkdtempSync(join(tmpdir(), 'sluice-nats-cluster-'))
  const clusterName = `sluice-${Math.random().toString(36).slice(2, 8)}`
  // All at once, so no two are the same.
  const free = await freeLoopbackPorts(3 * size)
  const ports = Array.from({ length: size }, (_, i) => ({ client: free[3 * i]!, cluster: free[3 * i + 1]!, monitor: free[3 * i + 2]! }))
  const routes = ports.map((port) => `nats://127.0.0.1:${port.cluster}`).join(',')

  const nodes = ports.map((port, index): ClusterNode & { start(): Promise<void>; stop(): Promise<void> } => {
    const name = `n${index + 1}-${clusterName}`
    let generation = 0
    let server: ManagedProcess | undefined
    const start = async (): Promise<void> => {
      generation++
      server = startManagedProcess({
        name: `nats-server ${name}`,
        command: binary,
        args: [
          ...(options.clusterConfig === undefined
            ? []
            : ['-c', options.clusterConfig({ dir, name, clusterName, clusterPort: port.cluster, routePorts: ports.map((each) => each.cluster) })]),
          '-js',
          '-a',
          '127.0.0.1',
          '-p',
          String(port.client),
          '-m',
          String(port.monitor),
          '-n',
          name,
          '-sd',
          join(dir, name),
          ...(options.clusterConfig === undefined ? ['--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${port.cluster}`, '--routes', routes] : []),
        ],
        logPath: join(dir, `${name}-${generation}.log`),
        ...orphanGuard(),
      })
      const current = server
      await eventually(
        `${name} to be healthy`,
        async () => {
          if (current.exit()) throw new Error(`${name} exited: ${current.logTail()}`)
          const response = await fetch(`http://127.0.0.1:${port.monitor}/healthz?js-enabled-only=true`)
          return response.ok ? true : undefined
        },
        20_000,
      )
    }
    return {
      name,
      url: `nats://127.0.0.1:${port.client}`,
      monitorPort: port.monitor,
      running: () => server !== undefined && server.exit() === undefined,
      kill: async () => {
        server?.signal('SIGKILL')
        await server?.exited
      },
      restart: start,
      log: () => server?.log() ?? '',
      start,
      stop: async () => {
        await server?.stop()
      },
    }
  })

  const url = nodes.map((node) => node.url).join(',')
  const cluster: NatsCluster & NatsClusterRoutes = {
    name: clusterName,
    routes,
    nodes,
    url,
    async leaderOf(stream) {
      const live = nodes.filter((node) => node.running()).map((node) => node.url)
      const nc = await connect({ servers: live, timeout: 2000, maxReconnectAttempts: 0 })
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false })
        return (await jsm.streams.info(stream)).cluster?.leader
      } finally {
        await nc.close()
      }
    },
    node(name) {
      const found = nodes.find((node) => node.name === name)
      if (!found) throw new Error(`no node ${name} in the cluster (${nodes.map((node) => node.name).join(', ')})`)
      return found
    },
    async close() {
      await Promise.all(nodes.map((node) => node.stop()))
      rmSync(dir, { recursive: true, force: true })
    },
  }

  try {
    await Promise.all(nodes.map((node) => node.start()))
    await waitForReplicatedStreams(url, size)
  } catch (error) {
    await cluster.close()
    throw error
  }
  return cluster
}

// Health says each server runs JetStream; only the meta leader's election makes the cluster usable, and
// the surest sign of that is a replicated stream being created (then removed).
async function waitForReplicatedStreams(url: string, replicas: number): Promise<void> {
  const nc = await connect({ servers: url.split(','), timeout: 2000 })
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false })
    const name = `CLUSTER_READY_${Math.random().toString(36).slice(2, 8).toUpperCase()}`
    await eventually(
      'the cluster to place a replicated stream',
      async () => {
        await jsm.streams.add({ name, subjects: [`${name}.>`], num_replicas: replicas, storage: StorageType.Memory, retention: RetentionPolicy.Limits })
        return true
      },
      30_000,
    )
    await jsm.streams.delete(name)
  } finally {
    await nc.close()
  }
}
