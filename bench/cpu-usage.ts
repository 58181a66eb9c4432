import { readdirSync, readFileSync } from 'node:fs'
import { basename } from 'node:path'

// Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux this runs on (`getconf CLK_TCK`).
const CLOCK_TICKS = 100

/** CPU seconds (user + system) process `pid` has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** The process whose program is `program` and whose arguments include `argument`, if one runs. */
export function findPid(program: string, argument: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (basename(argv[0] ?? '') === program && argv.includes(argument)) return Number(entry)
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined
}

/**
 * Runs `during` and returns the CPU seconds each of `pids` used meanwhile, plus `self`: this process
 * (the bench runner itself).
 */
export async function cpuDuring<T>(pids: Record<string, number>, during: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]))
  const selfBefore = process.cpuUsage()
  const result = await during()
  const self = process.cpuUsage(selfBefore)
  const cpu: Record<string, number> = { self: (self.user + self.system) / 1e6 }
  for (const [name, pid] of Object.entries(pids)) cpu[name] = cpuSeconds(pid) - before[name]!
  return { result, cpu }
}
