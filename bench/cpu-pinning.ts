import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'

/**
 * Where the bench's processes run. On 2+ CPUs, with `taskset` present and BENCH_PIN not `0`, the load
 * generators (wrk, the paced generator) run on the last CPU and the process measured (the ingress, a
 * baseline server, the raw publish loop) on the others, so the generator's work never takes the measured
 * server's CPU: on 2 cores, generator on cpu1 and server on cpu0. nats-server is left free to run on
 * either, as it would beside a pod. Without pinning every process shares every CPU.
 */
export interface CpuPlan {
  /** CPU list for `taskset -c` of the load generators. */
  readonly client: string
  /** CPU list for the process measured. */
  readonly server: string
}

/** The plan for this machine, or undefined when processes are not pinned (and why, for the report). */
export function cpuPlan(cpus = availableParallelism(), env = process.env.BENCH_PIN, hasTaskset = tasksetFound()): CpuPlan | { reason: string } {
  if (env === '0') return { reason: 'BENCH_PIN=0' }
  if (cpus < 2) return { reason: `${cpus} CPU: nothing to pin apart` }
  if (!hasTaskset) return { reason: 'taskset not found (util-linux)' }
  const last = cpus - 1
  return { client: String(last), server: last === 1 ? '0' : `0-${last - 1}` }
}

function tasksetFound(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const plan = cpuPlan()

/** What the bench pins where, or why it pins nothing, for the report. */
export function pinning(): string {
  return 'client' in plan
    ? `load generators on cpu ${plan.client}, the process measured on cpu ${plan.server}, nats-server unpinned`
    : `not pinned: ${plan.reason}`
}

/** `command` prefixed with `taskset -c <cpus>` for `role`, or as it is when nothing is pinned. */
export function pinnedCommand(role: keyof CpuPlan, command: string): string[] {
  return 'client' in plan ? ['taskset', '-c', plan[role], command] : [command]
}

/** Moves every thread of a running process (a server started elsewhere) onto `role`'s CPUs. */
export function pinProcess(pid: number, role: keyof CpuPlan): void {
  if ('client' in plan) execFileSync('taskset', ['-apc', plan[role], String(pid)], { stdio: 'ignore' })
}
