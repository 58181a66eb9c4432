/** One line of the e2e summary: a flow, what was measured, the figure. */
interface Row {
  readonly flow: string
  readonly what: string
  readonly value: string
}

/** Job counts of one flow, the way the summary prints them. */
export interface JobCounts {
  readonly accepted: number
  readonly processed: number
  readonly lost: number
  /** Jobs delivered more than once, and why that is allowed in this flow (or "none allowed"). */
  readonly runTwice: number
}

/** The figures `make e2e` prints at the end: pod start times, scaling times, job counts. */
export class Summary {
  readonly #rows: Row[] = []
  readonly #jobs = new Map<string, JobCounts>()

  add(flow: string, what: string, value: string | number): void {
    this.#rows.push({ flow, what, value: String(value) })
  }

  jobs(flow: string, counts: JobCounts): void {
    this.#jobs.set(flow, counts)
  }

  /** The summary as text: figures, then jobs per flow with totals. */
  render(): string {
    const lines = ['', '== e2e summary (make e2e) ==']
    const width = Math.max(...this.#rows.map((row) => `${row.flow}: ${row.what}`.length), 20)
    for (const row of this.#rows) lines.push(`  ${`${row.flow}: ${row.what}`.padEnd(width)}  ${row.value}`)
    if (this.#jobs.size > 0) {
      lines.push('', `  ${'jobs'.padEnd(24)} ${'accepted'.padStart(9)} ${'processed'.padStart(9)} ${'lost'.padStart(5)} ${'run twice'.padStart(9)}`)
      const total = { accepted: 0, processed: 0, lost: 0, runTwice: 0 }
      for (const [flow, c] of this.#jobs) {
        lines.push(
          `  ${flow.padEnd(24)} ${String(c.accepted).padStart(9)} ${String(c.processed).padStart(9)} ${String(c.lost).padStart(5)} ${String(c.runTwice).padStart(9)}`,
        )
        total.accepted += c.accepted
        total.processed += c.processed
        total.lost += c.lost
        total.runTwice += c.runTwice
      }
      lines.push(
        `  ${'total'.padEnd(24)} ${String(total.accepted).padStart(9)} ${String(total.processed).padStart(9)} ${String(total.lost).padStart(5)} ${String(total.runTwice).padStart(9)}`,
      )
    }
    return lines.join('\n')
  }
}

/** Seconds with one decimal, from milliseconds. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
