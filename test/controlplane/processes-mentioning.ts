import { readdirSync, readFileSync } from 'node:fs'

/** `pid: command line` of every live process whose arguments contain `text` (Linux /proc), for leak checks. */
export function processesMentioning(text: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`)
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}
