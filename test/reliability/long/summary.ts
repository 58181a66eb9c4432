import type { FuzzRunResult } from './http-fuzz-run.ts'
import { rssIsFlat, rssSummary, type RssFigures } from './rss-sampler.ts'
import type { SoakResult } from './soak.ts'

/** Everything the long run prints at the end. */
export interface RunSummary {
  readonly soak: SoakResult | undefined
  readonly fuzz: FuzzRunResult | undefined
  readonly failures: readonly string[]
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  const line = (row: readonly string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`
  return [line(rows[0]!), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.slice(1).map(line)]
}

function rssRows(figures: readonly RssFigures[]): string[][] {
  return figures.map((entry) => {
    const { start, end, max } = rssSummary(entry)
    return [entry.label, String(entry.pid), String(start), String(end), String(max), String(entry.samples.length), rssIsFlat(entry) ? 'yes' : 'NO']
  })
}

/** Prints the summary tables and the verdict. */
export function printSummary({ soak, fuzz, failures }: RunSummary, print: (line: string) => void): void {
  print('')
  print('== Reliability summary ==')
  if (soak) {
    const { settings, load, loss } = soak
    print('')
    print(
      `Soak: ${settings.seconds} s at ${soak.ratePerSecond} jobs/s (${Math.round(settings.loadFactor * 100)}% of ${settings.workers} workers × ${settings.concurrency} / ${settings.jobMs} ms), ${soak.killedWorkers} workers SIGKILLed`,
    )
    for (const line of table([
      ['figure', 'value'],
      ['requests sent', String(load.sent)],
      ['jobs accepted (2xx)', String(loss.accepted)],
      ['jobs processed', String(loss.processed)],
      ['jobs lost', String(loss.lost.length)],
      ['duplicates (ran twice)', `${loss.duplicates.length} (${loss.unexplainedDuplicates.length} unexplained)`],
      ['jobs cut short by a kill, rerun', String(loss.rescued)],
      ['503 with Retry-After', String(load.refused503)],
      ['429 with Retry-After', String(load.refused429)],
      ['undocumented answers', String(load.undocumentedCount)],
      ['no answer (connection errors)', String(load.connectionErrors)],
      ['skipped (client in-flight cap)', String(load.skipped)],
      ['duration (s)', (soak.durationMs / 1000).toFixed(1)],
    ]))
      print(line)
    print('')
    print('RSS (MiB) per process, sampled every 5 s')
    for (const line of table([['process', 'pid', 'start', 'end', 'max', 'samples', 'flat'], ...rssRows(soak.rss)])) print(line)
  }
  if (fuzz) {
    print('')
    print(`HTTP fuzz: ${fuzz.requests} requests in ${fuzz.seconds} s over real HTTP; ingress survived: ${fuzz.survived ? 'yes' : 'NO'}`)
    const statuses = [...fuzz.statuses].sort(([a], [b]) => a - b)
    for (const line of table([
      ['status', 'count'],
      ...statuses.map(([status, count]) => [String(status), String(count)]),
      ['no answer', String(fuzz.connectionErrors)],
      ['undocumented', String(fuzz.undocumentedCount)],
    ]))
      print(line)
    for (const [kind, { count, example }] of fuzz.connectionErrorKinds) print(`no answer, ${kind}: ${count}, e.g. ${example.slice(0, 300)}`)
    print('')
    for (const line of table([['process', 'pid', 'start', 'end', 'max', 'samples', 'flat'], ...rssRows(fuzz.rss)])) print(line)
  }
  print('')
  if (failures.length === 0) print('RESULT: PASS (no lost job, no unexplained duplicate, no undocumented answer, no crash, memory flat)')
  else {
    print(`RESULT: FAIL (${failures.length})`)
    for (const failure of failures) print(`- ${failure}`)
  }
}
