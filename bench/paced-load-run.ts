// bench/paced-load.ts as a process of its own, so bench/run.ts can pin it to the load generator's CPU
// (cpu-pinning.ts) like wrk. No Debian package paces a constant rate (wrk2 is not packaged), so the
// bench keeps this open-loop generator and reports what it costs: its CPU per request, next to what the
// server measured spends per request. Takes BENCH_URL, BENCH_RATE, BENCH_SECONDS, BENCH_CONNECTIONS,
// BENCH_EXPECT_STATUS and BENCH_WARMUP_SECONDS (sent first, not recorded; 1 by default); prints JSON.
import { runPacedLoad } from './paced-load.ts'

const cpuAtStart = process.cpuUsage()
const result = await runPacedLoad({
  url: process.env.BENCH_URL!,
  rate: Number(process.env.BENCH_RATE),
  durationSeconds: Number(process.env.BENCH_SECONDS ?? 10),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  expectStatus: Number(process.env.BENCH_EXPECT_STATUS ?? 200),
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 1),
})
const cpu = process.cpuUsage(cpuAtStart)
// Over every request it sent, the unrecorded first ones included.
const sentInAll = result.sent + Number(process.env.BENCH_RATE) * Number(process.env.BENCH_WARMUP_SECONDS ?? 1)
console.log(JSON.stringify({ ...result, clientCpuUsPerRequest: Math.round((cpu.user + cpu.system) / sentInAll) }))
