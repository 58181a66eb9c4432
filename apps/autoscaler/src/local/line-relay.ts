import type { Readable } from 'node:stream'
import { escapeLine, forEachLine } from '@sluice/core'

/**
 * Relays `input` to `write` a line at a time, each prefixed with `prefix`, with what could break a line on
 * the way out escaped (see `forEachLine` and `escapeLine`).
 */
export function relayLines(input: Readable, prefix: string, write: (text: string) => void): void {
  forEachLine(input, (line) => write(`${prefix}${escapeLine(line)}\n`))
}
