import type { Readable } from 'node:stream'

// Characters that could end or rewrite a line on a terminal or in a log reader: C0 controls but tab, DEL,
// C1 controls (U+0085 is a line break to some readers, U+009B starts a CSI sequence), and U+2028/U+2029.
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g

/** `line` with every unsafe character written as a `\uXXXX` escape (valid inside a JSON string too). */
export function escapeLine(line: string): string {
  return line.replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * Relays `input` to `write` a line at a time, each prefixed with `prefix`. Lines end at `\n` only (readline
 * also ends them at `\r`, U+2028 and U+2029, which let a worker's log field print a line of its own), and
 * what could break a line on the way out is escaped.
 */
export function relayLines(input: Readable, prefix: string, write: (text: string) => void): void {
  let pending = ''
  input.setEncoding('utf8')
  input.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) write(`${prefix}${escapeLine(line.endsWith('\r') ? line.slice(0, -1) : line)}\n`)
  })
  input.on('end', () => {
    if (pending !== '') write(`${prefix}${escapeLine(pending)}\n`)
    pending = ''
  })
}
