import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { freeLoopbackPorts } from '../support/free-port.ts'
import { startManagedProcess, type ManagedProcess } from '../support/managed-process.ts'
import { startNatsCluster, type NatsCluster, type NatsClusterRoutes } from '../support/nats-cluster.ts'
import { findBinary } from '../support/nats-server.ts'
import { orphanGuard } from '../support/repo-paths.ts'
import { ciValuesFile, findObject, helmSkipReason, renderChart } from './helm.ts'

const binary = findBinary()
const skipReason = helmSkipReason() ?? (binary ? undefined : 'no nats-server binary')

/**
 * One test server's configuration as the chart's pods have it: nats.conf's `cluster { }` block verbatim
 * (its port replaced by a loopback listen address) in `<dir>/nats/`, and the routes Secret's routes.conf,
 * its servers' addresses mapped to the test's route ports, in `<dir>/nats-routes/`, where the block's
 * `include ../nats-routes/routes.conf` finds it, as /etc/nats and /etc/nats-routes in the pod.
 */
function chartClusterConfig(conf: string, routesConf: string) {
  const start = conf.indexOf('\ncluster {')
  if (start < 0) throw new Error(`nats.conf has no cluster block:\n${conf}`)
  const block = conf.slice(start + 1, conf.indexOf('\n}\n', start) + 3)
  return ({
    dir,
    name,
    clusterName,
    clusterPort,
    routePorts,
  }: {
    dir: string
    name: string
    clusterName: string
    clusterPort: number
    routePorts: readonly number[]
  }): string => {
    // Each route URL keeps its credentials; its server's address becomes the test's.
    let index = 0
    const toLoopback = (text: string): string =>
      text.replace(/(nats:\/\/(?:[^@\s]+@)?)[^\s:@]+:6222/g, (_url, prefix: string) => `${prefix}127.0.0.1:${routePorts[index++] ?? 0}`)
    const routes = toLoopback(routesConf)
    const cluster = toLoopback(block)
    if (index !== routePorts.length) throw new Error(`the chart names ${index} routes, the test cluster has ${routePorts.length}:\n${block}\n${routesConf}`)
    mkdirSync(join(dir, 'nats-routes'), { recursive: true })
    mkdirSync(join(dir, 'nats'), { recursive: true })
    writeFileSync(join(dir, 'nats-routes', 'routes.conf'), routes)
    const path = join(dir, 'nats', `${name}.conf`)
    writeFileSync(path, cluster.replace(/name: \S+/, `name: ${clusterName}`).replace('port: 6222', `listen: 127.0.0.1:${clusterPort}`))
    return path
  }
}

/** A nats-server outside the cluster that names the cluster's route ports in `--routes`. */
async function startOutsider(
  cluster: NatsCluster & NatsClusterRoutes,
  dir: string,
  routeUrl: (url: string) => string,
): Promise<{ server: ManagedProcess; url: string; monitor: number }> {
  const [client, route, monitor] = (await freeLoopbackPorts(3)) as [number, number, number]
  const routes = cluster.routes.split(',').map(routeUrl).join(',')
  const server = startManagedProcess({
    name: 'outsider nats-server',
    command: binary!,
    args: [
      '-a',
      '127.0.0.1',
      '-p',
      String(client),
      '-m',
      String(monitor),
      '--cluster_name',
      cluster.name,
      '--cluster',
      routeUrl(`nats://127.0.0.1:${route}`),
      '--routes',
      routes,
    ],
    logPath: join(dir, `outsider-${client}.log`),
    ...orphanGuard(),
  })
  await eventually(
    'the outsider to start',
    async () => ((await fetch(`http://127.0.0.1:${monitor}/healthz`).catch(() => undefined))?.ok ? true : undefined),
    10_000,
  )
  return { server, url: `nats://127.0.0.1:${client}`, monitor }
}

async function routeCount(monitor: number): Promise<number> {
  return ((await (await fetch(`http://127.0.0.1:${monitor}/routez`)).json()) as { num_routes: number }).num_routes
}

/** Publishes on `publisher` until `subscriber` has one, or `ms` passes; returns how many arrived. */
async function received(publisher: NatsConnection, subscriber: NatsConnection, ms: number): Promise<number> {
  let count = 0
  const subscription = subscriber.subscribe('jobs.>', {
    callback: () => {
      count++
    },
  })
  await subscriber.flush()
  const deadline = Date.now() + ms
  while (count === 0 && Date.now() < deadline) {
    publisher.publish('jobs.secret', 'payload')
    await publisher.flush()
    await subscriber.flush()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  subscription.unsubscribe()
  return count
}

describe.skipIf(skipReason)(`nats route auth${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let cluster: NatsCluster & NatsClusterRoutes
  let routes: Record<string, string>
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rogue-'))
  const outsiders: ManagedProcess[] = []

  beforeAll(async () => {
    const objects = await renderChart({ valuesFiles: [ciValuesFile('nats-cluster-values.yaml')] })
    const conf = (findObject(objects, 'ConfigMap', '-nats-config').data as Record<string, string>)['nats.conf']!
    routes = (objects.find((object) => object.kind === 'Secret' && object.metadata.name.endsWith('-nats-routes'))?.stringData ?? {}) as Record<string, string>
    cluster = await startNatsCluster(3, { clusterConfig: chartClusterConfig(conf, routes['routes.conf'] ?? '') })
  }, 60_000)
  afterAll(async () => {
    await Promise.all(outsiders.map((server) => server.stop()))
    await cluster?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("nats route auth - a rogue server with --routes to the chart's cluster cannot join, nor receive jobs.*", async () => {
    const rogue = await startOutsider(cluster, dir, (url) => url)
    outsiders.push(rogue.server)
    await eventually('the cluster to refuse the rogue route', () => (/authorization violation/i.test(rogue.server.log()) ? true : undefined), 10_000)
    const member = await connect({ servers: cluster.nodes[0]!.url })
    const outsider = await connect({ servers: rogue.url })
    try {
      expect(await received(member, outsider, 2000)).toBe(0)
      expect(await routeCount(rogue.monitor)).toBe(0)
    } finally {
      await outsider.close()
      await member.close()
    }
  }, 30_000)

  it('nats route auth - a server with the route credentials joins and receives (the check above can see a route)', async () => {
    const credentials = `${routes.user}:${routes.password}@`
    expect(routes.password?.length).toBeGreaterThanOrEqual(32)
    const insider = await startOutsider(cluster, dir, (url) => url.replace('nats://', `nats://${credentials}`))
    outsiders.push(insider.server)
    await eventually('the insider to hold routes', async () => ((await routeCount(insider.monitor)) > 0 ? true : undefined), 10_000)
    const member = await connect({ servers: cluster.nodes[0]!.url })
    const joined = await connect({ servers: insider.url })
    try {
      expect(await received(member, joined, 5000)).toBeGreaterThan(0)
    } finally {
      await joined.close()
      await member.close()
    }
  }, 30_000)
})
