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
  /** Jobs that succeeded on a later delivery than their first (the API's `attempts` above 1). */
  readonly redelivered: number
  /** Jobs whose handler started more than once, by the worker pods' logs; undefined where logs are not read. */
  readonly runTwice: number | undefined
}

const COLUMNS = ['accepted', 'processed', 'lost', 'redelivered', 'run twice'] as const

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
      lines.push('', `  ${'jobs'.padEnd(24)} ${COLUMNS.map((column) => column.padStart(11)).join(' ')}`)
      const total = [0, 0, 0, 0, 0]
      for (const [flow, c] of this.#jobs) {
        const figures = [c.accepted, c.processed, c.lost, c.redelivered, c.runTwice]
        figures.forEach((figure, i) => {
          total[i] = (total[i] ?? 0) + (figure ?? 0)
        })
        lines.push(`  ${flow.padEnd(24)} ${figures.map((figure) => String(figure ?? '-').padStart(11)).join(' ')}`)
      }
      lines.push(`  ${'total'.padEnd(24)} ${total.map((figure) => String(figure).padStart(11)).join(' ')}`)
    }
    return lines.join('\n')
  }
}

/** Seconds with one decimal, from milliseconds. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
