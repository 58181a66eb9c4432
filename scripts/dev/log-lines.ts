import type { Readable } from 'node:stream'
import { escapeLine, forEachLine } from '@sluice/core'

const COLORS = [36, 33, 35, 32, 34, 91, 92, 93, 94, 95, 96]
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
// Fields every pino line has; the rest are shown as key=value after the message.
const SKIPPED = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg'])
let nextColor = 0
// A process that relays its children's output (the local autoscaler's workers) marks each line `[child] `.
const RELAYED = /^\[([a-z][a-z0-9-]{0,31})\] (.*)$/
const prefixes = new Map<string, string>()

/**
 * Prints each line of `stream` prefixed with a coloured `[name]`, turning pino JSON into
 * `time LEVEL message key=value`, so the merged output of `make dev` says which process spoke.
 */
export function prefixLines(name: string, stream: Readable, out: NodeJS.WritableStream = process.stdout): void {
  const colored = out === process.stdout && process.stdout.isTTY
  forEachLine(stream, (line) => {
    const relayed = RELAYED.exec(line)
    const [speaker, text] = relayed ? [relayed[1]!, relayed[2]!] : [name, line]
    // Escaped after JSON is decoded: a field's \u2028 or \u001b would otherwise reach the terminal raw.
    out.write(`${prefixFor(speaker, colored)} ${escapeLine(readable(text))}\n`)
  })
}

function prefixFor(name: string, colored: boolean): string {
  const key = `${name}|${colored}`
  let prefix = prefixes.get(key)
  if (prefix === undefined) {
    const color = COLORS[nextColor++ % COLORS.length]
    prefix = colored ? `\x1b[${color}m[${name}]\x1b[0m` : `[${name}]`
    prefixes.set(key, prefix)
  }
  return prefix
}

function readable(line: string): string {
  if (!line.startsWith('{')) return line
  try {
    const entry = JSON.parse(line) as Record<string, unknown>
    const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : ''
    const level = LEVELS[entry.level as number] ?? String(entry.level)
    const extra = Object.entries(entry)
      .filter(([key]) => !SKIPPED.has(key))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ')
    return `${time} ${level.padEnd(5)} ${String(entry.msg ?? '')}${extra ? `  ${extra}` : ''}`
  } catch {
    return line
  }
}
