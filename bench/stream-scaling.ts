// How durable publishes scale with replicas and with streams (issue 20, "Past one machine"): one nats-server
// (R1, file store) and a 3-server cluster on loopback (R3) run side by side; each round publishes the same
// number of messages into 1 or N WorkQueue streams configured as Sluice's jobs stream (max_msgs, discard new,
// a duplicate window, a Nats-Msg-Id on every message) with `nats bench js pub async`, the publishers spread
// over the streams, and reads each nats-server's CPU from /proc around it. Scenarios are interleaved round by
// round, since the shared cores' load moves between minutes. Each run then drains what it stored with a
// durable consumer per stream, acknowledging each message, and reads the servers' CPU for that apart.
// Prints one JSON line per run.
//
//   node bench/stream-scaling.ts          (STREAM_SCALING_ROUNDS, _MSGS, _CLIENTS, _BATCH override the defaults)
import { spawn } from 'node:child_process'
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { startNatsCluster } from '../test/support/nats-cluster.ts'
import { startNatsServer } from '../test/support/nats-server.ts'
import { findExecutable } from '../test/support/repo-paths.ts'
import { cpuSeconds, findPid } from './cpu-usage.ts'

const rounds = Number(process.env.STREAM_SCALING_ROUNDS ?? 3)
const totalMessages = Number(process.env.STREAM_SCALING_MSGS ?? 200_000)
const totalClients = Number(process.env.STREAM_SCALING_CLIENTS ?? 4)
// Publishes in flight per client before it waits for their acknowledgements (Sluice's pipelined publisher
// keeps up to its in-flight bound outstanding the same way).
const batch = Number(process.env.STREAM_SCALING_BATCH ?? 100)
const natsCli = findExecutable('NATS_CLI_BIN', 'nats')
if (!natsCli) throw new Error('no nats CLI: run `make tools` (it builds the pinned one into .tools/bin)')

interface Scenario {
  readonly name: string
  readonly replicas: 1 | 3
  readonly streams: number
}
const scenarios: Scenario[] = [
  { name: 'R1 x1', replicas: 1, streams: 1 },
  { name: 'R3 x1', replicas: 3, streams: 1 },
  { name: 'R1 x2', replicas: 1, streams: 2 },
  { name: 'R3 x2', replicas: 3, streams: 2 },
  { name: 'R1 x4', replicas: 1, streams: 4 },
]

const single = await startNatsServer()
const cluster = await startNatsCluster(3)
const singlePid = findPid('nats-server', `sluice-test-${new URL(single.url).port}`)
const clusterPids = Object.fromEntries(cluster.nodes.map((node) => [node.name, findPid('nats-server', node.name)]))
if (!singlePid || Object.values(clusterPids).some((pid) => pid === undefined)) throw new Error('could not find the nats-server pids')
const singleNc = await connect({ servers: single.url })
const clusterNc = await connect({ servers: cluster.url })

try {
  for (let round = 1; round <= rounds; round++) {
    // Rotate the order each round so no scenario always follows the same one.
    const order = scenarios.map((_, i) => scenarios[(i + round - 1) % scenarios.length]!)
    for (const scenario of order) console.log(JSON.stringify({ round, ...(await runScenario(scenario, round)) }))
  }
} finally {
  await singleNc.close()
  await clusterNc.close()
  await single.close()
  await cluster.close()
}

async function runScenario(scenario: Scenario, round: number): Promise<Record<string, unknown>> {
  const r3 = scenario.replicas === 3
  const nc = r3 ? clusterNc : singleNc
  const url = r3 ? cluster.url : single.url
  const pids: Record<string, number> = r3 ? (clusterPids as Record<string, number>) : { single: singlePid! }
  const jsm = await jetstreamManager(nc)
  const names = Array.from({ length: scenario.streams }, (_, i) => `SCALE_${round}_${scenario.replicas}_${scenario.streams}_${i}`)
  for (const [i, name] of names.entries()) await addJobsLikeStream(jsm, name, `scale${i}`, scenario.replicas)
  const leaders = r3 ? await spreadLeaders(jsm, nc, names) : names.map(() => 'single')

  const clientsPerStream = Math.max(1, Math.floor(totalClients / scenario.streams))
  const messagesPerStream = Math.floor(totalMessages / scenario.streams)
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]))
  const started = performance.now()
  const benchCpu = await Promise.all(names.map((name, i) => publish(url, name, `scale${i}.bench`, messagesPerStream, clientsPerStream)))
  const seconds = (performance.now() - started) / 1000
  const serverCpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) - before[name]!]))

  let stored = 0
  for (const name of names) stored += (await jsm.streams.info(name)).state.messages

  // Then drain them as workers would: a durable pull consumer per stream, fetches of 100, each message
  // acknowledged without waiting (WorkQueue retention removes it on the acknowledgement).
  const drainBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]))
  const drainStarted = performance.now()
  await Promise.all(names.map((name, i) => drain(url, name, Math.floor(stored / scenario.streams) + (i === 0 ? stored % scenario.streams : 0))))
  const drainSeconds = (performance.now() - drainStarted) / 1000
  const drainCpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) - drainBefore[name]!]))
  let left = 0
  for (const name of names) left += (await jsm.streams.info(name)).state.messages
  for (const name of names) await jsm.streams.delete(name)

  const totalServerCpu = Object.values(serverCpu).reduce((a, b) => a + b, 0)
  const perMessageUs = (cpu: number): number => Math.round((cpu / stored) * 1e6 * 10) / 10
  const drained = stored - left
  return {
    scenario: scenario.name,
    stored,
    seconds: Math.round(seconds * 100) / 100,
    rate: Math.round(stored / seconds),
    serverCpuUsPerMsg: perMessageUs(totalServerCpu),
    perServerUsPerMsg: Object.fromEntries(Object.entries(serverCpu).map(([name, cpu]) => [name.split('-')[0], perMessageUs(cpu)])),
    leaders: leaders.map((name) => name.split('-')[0]),
    benchCpuUsPerMsg: perMessageUs(benchCpu.reduce((a, b) => a + b, 0)),
    drained,
    drainRate: Math.round(drained / drainSeconds),
    drainServerCpuUsPerMsg: Math.round((Object.values(drainCpu).reduce((a, b) => a + b, 0) / drained) * 1e7) / 10,
    drainPerServerUsPerMsg: Object.fromEntries(Object.entries(drainCpu).map(([name, cpu]) => [name.split('-')[0], Math.round((cpu / drained) * 1e7) / 10])),
    loadavg: (await import('node:os')).loadavg().map((value) => Math.round(value * 10) / 10),
  }
}

/** A stream shaped as Sluice's jobs stream (packages/core/src/topology/queue-topology.ts). */
async function addJobsLikeStream(jsm: JetStreamManager, name: string, prefix: string, replicas: number): Promise<void> {
  await jsm.streams.add({
    name,
    subjects: [`${prefix}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas,
    max_msgs: 1_000_000,
    max_bytes: 1024 * 1024 * 1024,
    discard: DiscardPolicy.New,
    duplicate_window: 120 * 1e9,
    allow_direct: true,
  })
}

/** Asks leaders to step down until the streams' leaders sit on different servers (bounded attempts). */
async function spreadLeaders(jsm: JetStreamManager, nc: NatsConnection, names: string[]): Promise<string[]> {
  const leaderOf = async (name: string): Promise<string> => (await jsm.streams.info(name)).cluster?.leader ?? ''
  for (let attempt = 0; attempt < 20; attempt++) {
    const leaders = await Promise.all(names.map(leaderOf))
    const clash = leaders.findIndex((leader, i) => leader === '' || leaders.indexOf(leader) !== i)
    if (clash === -1) return leaders
    if (leaders[clash] !== '') await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${names[clash]}`, '', { timeout: 5000 }).catch(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return Promise.all(names.map(leaderOf))
}

/** Runs `nats bench js pub async` against an existing stream; resolves with the CPU seconds it used. */
function publish(url: string, stream: string, subject: string, messages: number, clients: number): Promise<number> {
  const args = ['bench', 'js', 'pub', 'async', subject, '-s', url, '--stream', stream, '--msgs', String(messages), '--clients', String(clients)]
  return runNatsBench([...args, '--batch', String(batch), '--dedup', '--size', '128B', '--no-progress'], stream)
}

/** Runs `nats bench js fetch` (durable consumer, explicit acknowledgements) until `messages` are taken. */
function drain(url: string, stream: string, messages: number): Promise<number> {
  const args = ['bench', 'js', 'fetch', '-s', url, '--stream', stream, '--msgs', String(messages), '--batch', String(batch)]
  return runNatsBench([...args, '--acks', 'explicit', '--no-progress'], stream)
}

/** Runs the nats CLI with `args`; resolves with the CPU seconds it used (sampled every 100 ms). */
function runNatsBench(args: string[], stream: string): Promise<number> {
  const child = spawn(natsCli!, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  let lastCpu = 0
  const sampler = setInterval(() => {
    try {
      if (child.pid) lastCpu = cpuSeconds(child.pid)
    } catch {
      // Exited meanwhile: the last sample stands.
    }
  }, 100)
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      clearInterval(sampler)
      if (code === 0) resolve(lastCpu)
      else reject(new Error(`nats bench on ${stream} exited ${code}: ${stderr.slice(-500)}`))
    })
  })
}
