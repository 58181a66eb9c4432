import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pinnedCommand } from './cpu-pinning.ts'

const run = promisify(execFile)

/** One wrk run, reduced to the figures the report uses. */
export interface LoadResult {
  /** Answers per second in the expected class (see {@link LoadOptions.expectStatus}). */
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Answers in the other class, plus socket errors (connect, read, write, timeout). */
  readonly errors: number
  /** CPU seconds wrk itself used (user + system), from the shell's `times`. */
  readonly clientCpuSeconds: number
}

/** Options of one run: fixed connections, fixed duration, as fast as the server answers (closed loop). */
export interface LoadOptions {
  readonly url: string
  readonly method?: 'GET' | 'POST'
  readonly body?: string
  readonly headers?: Record<string, string>
  readonly connections: number
  readonly durationSeconds: number
  /**
   * The status the run expects. wrk counts answers by class only (2xx-3xx, or 4xx-5xx as "status
   * errors"): counting each status in Lua costs a callback per answer, which would make the generator
   * as dear as the servers it measures. So `rps` counts the expected status's class; every run in the
   * bench sees one status only (200, 202, or 503 from a full queue).
   */
  readonly expectStatus: number
}

/** What wrk's Lua `done` hook prints: counts, and latency in microseconds. */
export interface WrkReport {
  readonly requests: number
  readonly durationUs: number
  readonly statusErrors: number
  readonly socketErrors: number
  readonly p50Us: number
  readonly p99Us: number
}

const REPORT_PREFIX = 'wrk-report '

/**
 * The Lua script of one run: the request (method, headers, body) and a `done` hook printing a
 * {@link WrkReport} as one JSON line. The body goes in a long bracket, which Lua takes verbatim.
 */
export function wrkScript(options: Pick<LoadOptions, 'method' | 'body' | 'headers'>): string {
  const lines = [`wrk.method = "${options.method ?? 'GET'}"`]
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`)
  if (options.body !== undefined) lines.push(`wrk.body = ${luaString(options.body)}`)
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format('${REPORT_PREFIX}{"requests":%d,"durationUs":%d,"statusErrors":%d,"socketErrors":%d,"p50Us":%d,"p99Us":%d}\\n',`,
    '    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,',
    '    latency:percentile(50), latency:percentile(99)))',
    'end',
  )
  return `${lines.join('\n')}\n`
}

// A Lua long bracket whose level no `]=…=]` in the text can close early.
function luaString(text: string): string {
  let level = ''
  while (text.includes(`]${level}]`)) level += '='
  // A newline right after the opening bracket would be dropped by Lua; none is written there.
  return `[${level}[${text}]${level}]`
}

/** Reads the report line and the shell's `times` (its second line: the children's user and system time). */
export function parseWrkOutput(stdout: string): { report: WrkReport; clientCpuSeconds: number } {
  const lines = stdout.trim().split('\n')
  const reportLine = lines.find((line) => line.startsWith(REPORT_PREFIX))
  if (!reportLine) throw new Error(`wrk printed no report:\n${stdout}`)
  const report = JSON.parse(reportLine.slice(REPORT_PREFIX.length)) as WrkReport
  const children = lines.at(-1)!.trim().split(/\s+/)
  const clientCpuSeconds = children.map(shellSeconds).reduce((sum, seconds) => sum + seconds, 0)
  if (children.length !== 2 || Number.isNaN(clientCpuSeconds)) throw new Error(`no CPU times after wrk's output:\n${stdout}`)
  return { report, clientCpuSeconds }
}

// `times` prints `1m2.345s`.
function shellSeconds(text: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(text)
  return match ? Number(match[1]) * 60 + Number(match[2]) : Number.NaN
}

/** The figures of one run from wrk's report: answers of the expected class per second, latency in ms. */
export function loadResult(report: WrkReport, expectStatus: number, clientCpuSeconds: number): LoadResult {
  const answered = report.requests - report.statusErrors
  const matching = expectStatus < 400 ? answered : report.statusErrors
  const other = expectStatus < 400 ? report.statusErrors : answered
  return {
    rps: Math.round(matching / (report.durationUs / 1e6)),
    p50Ms: Math.round(report.p50Us / 10) / 100,
    p99Ms: Math.round(report.p99Us / 10) / 100,
    errors: other + report.socketErrors,
    clientCpuSeconds,
  }
}

let scriptDir: string | undefined

/**
 * Runs wrk (one thread: a few µs per request, so one core's share of it outruns any server here) on the
 * client CPU (see cpu-pinning.ts) and reports throughput of the expected answers and latency percentiles.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  scriptDir ??= mkdtempSync(join(tmpdir(), 'sluice-wrk-'))
  const script = join(scriptDir, `run-${process.pid}.lua`)
  writeFileSync(script, wrkScript(options))
  const args = ['-t1', `-c${options.connections}`, `-d${options.durationSeconds}s`, '--timeout', '10s', '-s', script, options.url]
  // `times` after wrk: the shell's children's CPU, which is wrk's (taskset execs it).
  const { stdout } = await run('bash', ['-c', '"$@" || exit $?; times', 'bash', ...pinnedCommand('client', 'wrk'), ...args], { maxBuffer: 1024 * 1024 })
  const { report, clientCpuSeconds } = parseWrkOutput(stdout)
  return loadResult(report, options.expectStatus, clientCpuSeconds)
}
