import { readFileSync } from 'node:fs'

/** RSS figures of one process over a run, in bytes. */
export interface RssFigures {
  readonly label: string
  readonly pid: number
  readonly samples: readonly { readonly atMs: number; readonly bytes: number }[]
}

/** VmRSS of `pid` from /proc, in bytes; undefined once the process is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/**
 * Samples the RSS of every process it is told about, every `intervalMs`, until stopped. A process that
 * died keeps the samples it had, so killed workers still appear in the summary.
 */
export class RssSampler {
  readonly #figures = new Map<number, { label: string; samples: { atMs: number; bytes: number }[] }>()
  readonly #started = Date.now()
  readonly #timer: NodeJS.Timeout

  constructor(intervalMs: number) {
    this.#timer = setInterval(() => this.sample(), intervalMs)
    this.#timer.unref()
  }

  /** Starts sampling `pid` under `label`. */
  track(label: string, pid: number): void {
    this.#figures.set(pid, { label, samples: [] })
    this.sample()
  }

  /** Takes one sample of every tracked process still alive. */
  sample(): void {
    const atMs = Date.now() - this.#started
    for (const [pid, figures] of this.#figures) {
      const bytes = residentBytes(pid)
      if (bytes !== undefined) figures.samples.push({ atMs, bytes })
    }
  }

  /** Stops sampling and returns what was seen, in the order processes were tracked. */
  stop(): RssFigures[] {
    clearInterval(this.#timer)
    this.sample()
    return [...this.#figures].map(([pid, { label, samples }]) => ({ label, pid, samples }))
  }
}

/** First, last and highest sample, in MiB. */
export function rssSummary(figures: RssFigures): { start: number; end: number; max: number } {
  const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
  const bytes = figures.samples.map((sample) => sample.bytes)
  return { start: mib(bytes[0] ?? 0), end: mib(bytes.at(-1) ?? 0), max: mib(Math.max(0, ...bytes)) }
}

/**
 * Whether memory stayed flat: the highest sample of the last quarter of the run is at most the highest of
 * the second quarter (after warm-up) plus 25% and 16 MiB. A leak grows past that; garbage-collector
 * sawtooth does not.
 */
export function rssIsFlat(figures: RssFigures): boolean {
  const samples = figures.samples
  if (samples.length < 8) return true
  const quarter = Math.floor(samples.length / 4)
  const warm = Math.max(...samples.slice(quarter, 2 * quarter).map((sample) => sample.bytes))
  const late = Math.max(...samples.slice(3 * quarter).map((sample) => sample.bytes))
  return late <= warm * 1.25 + 16 * 1024 * 1024
}
