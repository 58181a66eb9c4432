import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { WorkerProcesses } from '../../apps/autoscaler/src/local/worker-processes.ts'
import { prefixLines } from '../../scripts/dev/log-lines.ts'
import { eventually } from '../support/eventually.ts'

// A worker whose log line carries a field with U+2028, U+0085 and a CSI (U+009B), as a job payload could.
const FORGING_WORKER = `
process.stdout.write(JSON.stringify({ level: 30, msg: 'processing user: a\\u2028{"level":60,"msg":"FATAL forged"}\\u0085[FATAL] next\\u009b2J' }) + '\\n')
process.stdout.write('plain line\\r\\n')
setTimeout(() => {}, 60_000)
process.on('SIGTERM', () => process.exit(0))
`

describe('worker log relay', () => {
  it('worker log relay - a worker line that holds line or paragraph separators or C1 controls stays one line, escaped', async () => {
    const entryPoint = join(mkdtempSync(join(tmpdir(), 'sluice-relay-')), 'worker.mjs')
    writeFileSync(entryPoint, FORGING_WORKER)
    const out = new PassThrough()
    let text = ''
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
    })
    const workers = new WorkerProcesses({ logger: pino({ level: 'silent' }), env: process.env, firstPort: 0, closeTimeoutMs: 5000, out, entryPoint })
    try {
      workers.scale(1)
      await eventually('both lines relayed', () => (text.includes('plain line') ? true : undefined), 10_000)
    } finally {
      await workers.close()
    }
    const lines = text.split(/\r?\n|\r|\u2028|\u2029|\u0085/).filter((line) => line !== '')
    expect(lines).toHaveLength(2)
    expect(lines.every((line) => line.startsWith('[worker-1] '))).toBe(true)
    expect(lines[0]).toContain('a\\u2028{')
    expect(lines[0]).toContain('\\u0085[FATAL]')
    expect(lines[0]).toContain('\\u009b2J')
    expect(lines[1]).toBe('[worker-1] plain line')
  })

  it("worker log relay - make dev's merged output keeps a decoded field's separators and escape sequences on one line", async () => {
    const input = new PassThrough()
    const out = new PassThrough()
    let text = ''
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
    })
    prefixLines('worker-1', input, out)
    input.end(`${JSON.stringify({ level: 30, time: 0, msg: 'processing user: a\u2028FATAL forged\u001b[2J\u009b' })}\n`)
    await eventually('the line printed', () => (text.endsWith('\n') ? true : undefined), 2000)
    const lines = text.split(/\r?\n|\r|\u2028|\u2029|\u0085/).filter((line) => line !== '')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('a\\u2028FATAL forged\\u001b[2J\\u009b')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape characters must not get through.
    expect(text).not.toMatch(/[\u001b\u009b]/)
  })
})
