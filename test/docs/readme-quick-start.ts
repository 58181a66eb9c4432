// Reads the README's quick-start sections and judges what their commands print against what the README shows,
// so the commands a newcomer copies are the commands the test runs.

/** One command of a quick start and the answer the README shows for it. */
export interface QuickStartStep {
  /** The shell command, continuation lines joined. */
  readonly command: string
  /** The README's comment lines after it, without their `# `. */
  readonly shown: readonly string[]
}

/**
 * A quick-start section: how `make dev` is started, then the commands run against it. The test starts each
 * section from an empty store, as `make clean` (or a first run) leaves it.
 */
export interface QuickStartSection {
  /** Variables set on the `make dev` line (`QUEUE_MAX_MESSAGES=5 ... make dev`). */
  readonly env: Readonly<Record<string, string>>
  readonly steps: readonly QuickStartStep[]
}

/** The shell blocks between `<!-- name:begin -->` and `<!-- name:end -->`, parsed. */
export function quickStartSection(readme: string, name: string): QuickStartSection {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  const start = readme.indexOf(begin)
  const stop = readme.indexOf(end)
  if (start < 0 || stop < start) throw new Error(`README.md lacks the ${begin} ... ${end} markers`)
  const lines = [...readme.slice(start + begin.length, stop).matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => block[1]!.split('\n'))
  let devLine: string | undefined
  const steps: { command: string; shown: string[] }[] = []
  let pending = ''
  for (const line of lines) {
    const text = line.trim()
    if (pending !== '') {
      pending += ` ${text.replace(/\\$/, '').trim()}`
      if (!text.endsWith('\\')) {
        steps.push({ command: pending, shown: [] })
        pending = ''
      }
    } else if (text === '') {
      // A blank line inside the block separates nothing.
    } else if (text.startsWith('#')) {
      const step = steps.at(-1)
      if (!step) throw new Error(`${name}: an answer before any command: ${text}`)
      step.shown.push(text.replace(/^#\s?/, ''))
    } else if (/\bmake dev\b/.test(text)) {
      devLine = text.replace(/\s+#.*$/, '')
    } else if (text.endsWith('\\')) {
      pending = text.replace(/\\$/, '').trim()
    } else {
      steps.push({ command: text, shown: [] })
    }
  }
  if (devLine === undefined) throw new Error(`${name}: no \`make dev\` line`)
  const env = Object.fromEntries([...devLine.matchAll(/\b([A-Z][A-Z0-9_]*)=(\S+)/g)].map((match) => [match[1]!, match[2]!]))
  for (const step of steps) if (step.shown.length === 0) throw new Error(`${name}: \`${step.command}\` shows no answer`)
  return { env, steps }
}

/** The command to run: the README's, against `port`; a lone curl also prints its status on a last line. */
export function runnableCommand(step: QuickStartStep, port: number): string {
  const command = step.command.replaceAll('localhost:8080', `localhost:${port}`)
  return printsStatus(step) ? `${command} -s -w '\\n%{http_code}'` : command
}

// A step whose answer starts with a status ("200 ...") is one curl without its own -w: the status is added.
function printsStatus(step: QuickStartStep): boolean {
  return /^\d{3}\b/.test(step.shown[0] ?? '') && !/(^|\s)-w\s/.test(step.command)
}

/**
 * What differs between the answer the README shows and what the command printed (empty when they agree).
 * `…` in the README stands for any value: a whole JSON value (`"…"`) or any text.
 */
export function differences(step: QuickStartStep, printed: string): string[] {
  if (!printsStatus(step)) {
    const normalise = (text: string): string[] =>
      text
        .trim()
        .split('\n')
        .map((line) => line.trim().replace(/\s+/g, ' '))
    const [shown, actual] = [normalise(step.shown.join('\n')).join('\n'), normalise(printed).join('\n')]
    return sameText(shown, actual) ? [] : [`printed ${JSON.stringify(actual)}, the README shows ${JSON.stringify(shown)}`]
  }
  const newline = printed.lastIndexOf('\n')
  const [status, body] = [printed.slice(newline + 1).trim(), printed.slice(0, newline)]
  const shown = step.shown.join('')
  const shownStatus = shown.slice(0, 3)
  const shownBody = shown.slice(3).trim()
  const problems: string[] = []
  if (status !== shownStatus) problems.push(`status ${status}, the README shows ${shownStatus}`)
  if (shownBody.startsWith('{')) problems.push(...jsonDifferences(shownBody, body))
  else if (!sameText(shownBody, body.trim())) problems.push(`body ${JSON.stringify(body.trim())}, the README shows ${JSON.stringify(shownBody)}`)
  return problems
}

const ANY = '\u0000any'

function sameText(shown: string, printed: string): boolean {
  const pattern = shown
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*')
  return new RegExp(`^${pattern}$`).test(printed)
}

function jsonDifferences(shown: string, printed: string): string[] {
  let actual: Record<string, unknown>
  try {
    actual = JSON.parse(printed) as Record<string, unknown>
  } catch {
    return [`body is not JSON: ${JSON.stringify(printed)}`]
  }
  const expected = JSON.parse(shown.replaceAll('"…"', JSON.stringify(ANY))) as Record<string, unknown>
  const problems: string[] = []
  for (const key of Object.keys(actual)) if (!(key in expected)) problems.push(`"${key}" is in the answer, not in the README`)
  for (const [key, value] of Object.entries(expected)) {
    if (!(key in actual)) problems.push(`"${key}" is in the README, not in the answer`)
    else if (value !== ANY && JSON.stringify(actual[key]) !== JSON.stringify(value)) {
      problems.push(`"${key}" is ${JSON.stringify(actual[key])}, the README shows ${JSON.stringify(value)}`)
    }
  }
  return problems
}
