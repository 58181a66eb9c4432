import { followLog, getJson } from './kube.ts'

// The `user` handler's log lines (pino JSON), as test/support/processed-ledger.ts reads them from processes.
const LINE = /"jobId":"([^"]*)".*"msg":"processing user job: [A-Za-z0-9_-]+, (started|finished)"/
const TIME = /"time":(\d+)/
// Any other line about one job (a state not recorded, a retry, a dead letter, an earlier success found).
const JOB_LINE = /"jobId":"([^"]*)".*"msg":"([^"]*)"/
// A redelivery that waited for an earlier attempt still shown running (apps/worker/src/earlier-attempt.ts).
const WAITED = /waiting for its outcome/

/**
 * Which worker pods started and finished each job, from their logs: every worker pod of the release is
 * followed (`kubectl logs -f`) from when it appears until its container stops, so pods removed by a
 * scale-down or a deletion are counted up to their last line.
 */
export class WorkerPodLogs {
  readonly #namespace: string
  readonly #selector: string
  readonly #followed = new Map<string, { stop(): void }>()
  readonly #startedBy = new Map<string, string[]>()
  readonly #finishedBy = new Map<string, string[]>()
  /** Each job's log lines of note, in order: when, which pod, what. */
  readonly #events = new Map<string, string[]>()
  readonly #waited = new Set<string>()
  #timer: NodeJS.Timeout | undefined

  constructor(namespace: string, selector: string) {
    this.#namespace = namespace
    this.#selector = selector
  }

  /** Looks for new worker pods every second. */
  start(): void {
    const look = async (): Promise<void> => {
      try {
        const pods = await getJson<{ items: { metadata: { name: string }; status: { phase: string } }[] }>([
          '-n',
          this.#namespace,
          'pods',
          '-l',
          this.#selector,
        ])
        for (const pod of pods.items) {
          const name = pod.metadata.name
          if (this.#followed.has(name) || pod.status.phase === 'Pending') continue
          this.#followed.set(
            name,
            followLog(this.#namespace, name, (line) => this.#record(name, line)),
          )
        }
      } catch {
        // The next look retries (the API server is busy during a helm upgrade).
      }
      if (this.#timer) this.#timer.refresh()
    }
    this.#timer = setTimeout(() => void look(), 1000)
    this.#timer.unref()
    void look()
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    for (const follower of this.#followed.values()) follower.stop()
  }

  #record(pod: string, line: string): void {
    const match = LINE.exec(line)
    if (!match) {
      const about = JOB_LINE.exec(line)
      if (about) this.#note(about[1] ?? '', line, `${pod}: ${about[2]}`)
      if (about && WAITED.test(about[2] ?? '')) this.#waited.add(about[1] ?? '')
      return
    }
    const [, id = '', event] = match
    const map = event === 'started' ? this.#startedBy : this.#finishedBy
    map.set(id, [...(map.get(id) ?? []), pod])
    this.#note(id, line, `${event} on ${pod}`)
  }

  #note(id: string, line: string, what: string): void {
    const time = TIME.exec(line)?.[1]
    const when = time ? new Date(Number(time)).toISOString().slice(11, 23) : '?'
    this.#events.set(id, [...(this.#events.get(id) ?? []), `${when} ${what}`])
  }

  /** The job's log lines of note, in order (started, finished, warnings), for a failure or the summary. */
  readonly story = (id: string): string => (this.#events.get(id) ?? ['no log line']).join('; ')

  /** Pods that finished at least one of `ids`. */
  podsThatFinished(ids: Iterable<string>): Set<string> {
    const pods = new Set<string>()
    for (const id of ids) for (const pod of this.#finishedBy.get(id) ?? []) pods.add(pod)
    return pods
  }

  /** Pods that started at least one job (any id). */
  podsThatStarted(): Set<string> {
    const pods = new Set<string>()
    for (const started of this.#startedBy.values()) for (const pod of started) pods.add(pod)
    return pods
  }

  /** How many times `id` was started, over every pod (as seen so far). */
  startedCount(id: string): number {
    return this.#startedBy.get(id)?.length ?? 0
  }

  /** Whether a redelivery of `id` waited for an earlier attempt still shown running. */
  waitedForEarlierAttempt(id: string): boolean {
    return this.#waited.has(id)
  }

  /** The pod that started `id` first, if any has. */
  firstStartedOn(id: string): string | undefined {
    return this.#startedBy.get(id)?.[0]
  }
}
