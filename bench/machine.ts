import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from '../test/support/repo-paths.ts'

/** Versions and machine facts recorded with every benchmark run, so figures can be compared honestly. */
export function machineFacts(natsServerBinary: string | undefined): Record<string, string | number> {
  const fastify = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'fastify', 'package.json'), 'utf8')).version as string
  const jetstream = JSON.parse(readFileSync(join(repoRoot, 'node_modules', '@nats-io', 'jetstream', 'package.json'), 'utf8')).version as string
  let natsServer = 'unknown'
  try {
    if (natsServerBinary) natsServer = execFileSync(natsServerBinary, ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    // Keep "unknown".
  }
  return {
    node: process.version,
    nats_server: natsServer,
    fastify,
    nats_jetstream_client: jetstream,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 1024 ** 3),
    date: new Date().toISOString(),
  }
}

/** Resident memory of a process in MiB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round((kb / 1024) * 10) / 10
}
