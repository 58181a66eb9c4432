import { describe, expect, it } from 'vitest'
import { cpuPlan } from '../../bench/cpu-pinning.ts'
import { loadResult, parseWrkOutput, wrkScript } from '../../bench/wrk-load.ts'

// The bench reads wrk's figures from a line its Lua `done` hook prints and wrk's own CPU from the shell's
// `times`; these check that reading, and the request the script makes wrk send, without running wrk.

const report = { requests: 50_000, durationUs: 10_000_000, statusErrors: 0, socketErrors: 0, p50Us: 1234, p99Us: 5678 }

describe('bench wrk load', () => {
  it('bench wrk load - reads the report line and the CPU wrk used from the output', () => {
    const stdout = `Running 10s test @ http://127.0.0.1:1/\n  1 threads and 50 connections\nwrk-report ${JSON.stringify(report)}\n0m0.010s 0m0.004s\n0m1.250s 0m2.500s\n`
    const { report: read, clientCpuSeconds } = parseWrkOutput(stdout)
    expect(read).toEqual(report)
    // The second line of `times` is the children's: wrk's user and system time.
    expect(clientCpuSeconds).toBeCloseTo(3.75)
  })

  it('bench wrk load - a run without the report or the times is an error, not a zero', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n0m0.000s 0m0.000s\n0m0.001s 0m0.001s\n')).toThrow(/no report/)
    expect(() => parseWrkOutput(`wrk-report ${JSON.stringify(report)}\n`)).toThrow(/no CPU times/)
  })

  it('bench wrk load - counts the expected class of answers per second, and the rest as errors', () => {
    const mixed = { ...report, statusErrors: 1000, socketErrors: 2 }
    // 200 expected: the 2xx-3xx answers count, the 1,000 status errors do not.
    expect(loadResult(mixed, 200, 1)).toEqual({ rps: 4900, p50Ms: 1.23, p99Ms: 5.68, errors: 1002, clientCpuSeconds: 1 })
    // 503 expected (a full queue): the status errors are the answers wanted.
    expect(loadResult(mixed, 503, 1)).toMatchObject({ rps: 100, errors: 49_002 })
  })

  it('bench wrk load - the script sets method, headers and a body Lua takes verbatim', () => {
    const body = JSON.stringify({ type: 'noop', payload: { text: 'a]]b]=]c\n"q"' } })
    const script = wrkScript({ method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(script).toContain('wrk.method = "POST"')
    expect(script).toContain('wrk.headers[ [[content-type]] ] = [[application/json]]')
    // The body holds `]]` and `]=]`, so its long bracket is of level 2.
    expect(script).toContain(`wrk.body = [==[${body}]==]`)
    expect(script).toMatch(/done = function\(summary, latency, requests\)/)
  })

  it('bench wrk load - pins the generator to the last CPU and servers to the others, or says why not', () => {
    expect(cpuPlan(2, undefined, true)).toEqual({ client: '1', server: '0' })
    expect(cpuPlan(4, undefined, true)).toEqual({ client: '3', server: '0-2' })
    expect(cpuPlan(1, undefined, true)).toEqual({ reason: '1 CPU: nothing to pin apart' })
    expect(cpuPlan(2, '0', true)).toEqual({ reason: 'BENCH_PIN=0' })
    expect(cpuPlan(2, undefined, false)).toMatchObject({ reason: expect.stringMatching(/taskset/) })
  })
})
