// The long reliability runs (`make test-reliability`): a soak at ~80% of capacity with workers killed at
// random, then a fuzz of the HTTP surface over real sockets. Prints a summary table and exits 1 on any lost
// job, unexplained duplicate, undocumented answer, crash or growing memory.
//
// Settings (env): SOAK_SECONDS (600), SOAK_WORKERS (3), SOAK_CONCURRENCY (4), SOAK_JOB_MS (100),
// SOAK_LOAD_FACTOR (0.8), SOAK_KILL_EVERY_SECONDS (20), SOAK_SETTLE_SECONDS (60), FUZZ_SECONDS (120).
// SOAK_SECONDS=0 or FUZZ_SECONDS=0 skips that part.
import { startNatsServer } from '../../support/nats-server.ts'
import { runHttpFuzz, type FuzzRunResult } from './http-fuzz-run.ts'
import { rssIsFlat, type RssFigures } from './rss-sampler.ts'
import { runSoak, soakSettings, type SoakResult } from './soak.ts'
import { printSummary } from './summary.ts'

const progress = (line: string): void => {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`)
}

const soakSeconds = Number(process.env.SOAK_SECONDS ?? 600)
const fuzzSeconds = Number(process.env.FUZZ_SECONDS ?? 120)
const server = await startNatsServer()
if (!server.controllable) {
  process.stderr.write('test-reliability needs its own nats-server (unset NATS_URL): it runs its own, with file storage\n')
  process.exit(2)
}

let soak: SoakResult | undefined
let fuzz: FuzzRunResult | undefined
const failures: string[] = []
try {
  if (soakSeconds > 0) soak = await runSoak(server, { ...soakSettings(), seconds: soakSeconds }, progress)
  if (fuzzSeconds > 0) fuzz = await runHttpFuzz(server, fuzzSeconds, progress)
} catch (error) {
  failures.push(`run failed: ${(error as Error).stack ?? String(error)}`)
} finally {
  await server.close()
}

// Workers are killed on purpose; memory must stay flat in the processes that lived through the run.
const longLived = (figures: readonly RssFigures[], killedOrReplaced: (figures: RssFigures) => boolean) =>
  figures.filter((entry) => !killedOrReplaced(entry) && !rssIsFlat(entry)).map((entry) => `${entry.label} (pid ${entry.pid}) memory grew`)

if (soak) {
  if (soak.loss.lost.length > 0) failures.push(`soak: ${soak.loss.lost.length} accepted jobs lost, e.g. ${soak.loss.lost.slice(0, 5).join(', ')}`)
  if (soak.loss.unexplainedDuplicates.length > 0) failures.push(`soak: ${soak.loss.unexplainedDuplicates.length} duplicates no killed worker explains`)
  if (soak.loss.idMismatches > 0) failures.push(`soak: ${soak.loss.idMismatches} runs handed another job id than the client chose`)
  if (soak.load.undocumentedCount > 0)
    failures.push(`soak: ${soak.load.undocumentedCount} undocumented answers, e.g. ${JSON.stringify(soak.load.undocumented.slice(0, 3))}`)
  for (const crash of soak.crashed) failures.push(`soak: crashed: ${crash}`)
  const lastSampleAt = Math.max(0, ...soak.rss.flatMap((entry) => entry.samples.map((sample) => sample.atMs)))
  failures.push(...longLived(soak.rss, (entry) => (entry.samples.at(-1)?.atMs ?? 0) < lastSampleAt - 6000))
}
if (fuzz) {
  if (fuzz.undocumentedCount > 0) failures.push(`fuzz: ${fuzz.undocumentedCount} undocumented answers:\n  ${fuzz.undocumented.join('\n  ')}`)
  if (!fuzz.survived) failures.push('fuzz: the ingress did not survive the run')
  failures.push(...longLived(fuzz.rss, () => false))
}

printSummary({ soak, fuzz, failures }, (line) => process.stdout.write(`${line}\n`))
process.exit(failures.length > 0 ? 1 : 0)
