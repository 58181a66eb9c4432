import type { Readable } from 'node:stream'

// Characters that could end or rewrite a line on a terminal or in a log reader: C0 controls but tab, DEL,
// C1 controls (U+0085 is a line break to some readers, U+009B starts a CSI sequence), and U+2028/U+2029.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it must find.
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g

/** `line` with every character that could break or rewrite it written as a `\uXXXX` escape (valid in JSON strings too). */
export function escapeLine(line: string): string {
  return line.replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * Calls `onLine` for each line of `input`, a trailing `\r` removed. Lines end at `\n` only: readline also
 * ends them at `\r`, U+2028 and U+2029, which let a field of one log line print a line of its own.
 */
export function forEachLine(input: Readable, onLine: (line: string) => void): void {
  let pending = ''
  input.setEncoding('utf8')
  input.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) onLine(line.endsWith('\r') ? line.slice(0, -1) : line)
  })
  input.on('end', () => {
    if (pending !== '') onLine(pending)
    pending = ''
  })
}
