import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findBinary } from '../support/nats-server.ts'
import { freeLoopbackPorts } from '../support/free-port.ts'
import { repoRoot } from '../support/repo-paths.ts'
import { differences, quickStartSection, runnableCommand, type QuickStartSection } from './readme-quick-start.ts'

// The README's quick starts, run as written against `make dev` (scripts/dev.ts on free ports, with a store of
// its own), each answer compared with the one the README shows. Editing the README changes what runs here.
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
const run = promisify(execFile)
const natsServer = findBinary()
// A section's jobs may still run when it stops: dev lets workers drain (WORKER_DRAIN_MS, 25 s) and then exits.
const STOP_TIMEOUT_MS = 60_000

interface Dev {
  readonly port: number
  readonly output: () => string
  stop(): Promise<number | null>
}

async function startDev(section: QuickStartSection): Promise<Dev> {
  const [port, opsPort, natsPort, natsMonitorPort, autoscalerPort] = (await freeLoopbackPorts(5)) as [number, number, number, number, number]
  const storeDir = mkdtempSync(join(tmpdir(), 'sluice-quick-start-'))
  const child: ChildProcess = spawn(process.execPath, ['scripts/dev.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...section.env,
      NATS_SERVER_BIN: natsServer,
      PORT: String(port),
      INGRESS_OPS_PORT: String(opsPort),
      NATS_PORT: String(natsPort),
      NATS_MONITOR_PORT: String(natsMonitorPort),
      AUTOSCALER_PORT: String(autoscalerPort),
      AUTOSCALE_WORKER_FIRST_PORT: '0',
      NATS_STORE_DIR: storeDir,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`make dev printed no "[dev] ready" within 90 s:\n${output}`)), 90_000)
    const check = (): void => {
      if (output.includes('[dev] ready')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`make dev exited before it was ready:\n${output}`))
    })
  })
  return {
    port,
    output: () => output,
    async stop() {
      child.kill('SIGTERM')
      const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS))])
      rmSync(storeDir, { recursive: true, force: true })
      if (code === 'timeout') throw new Error(`make dev did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM:\n${output}`)
      return code
    },
  }
}

describe('readme quick start - judging answers', () => {
  // Each case: an answer the README might show, what the command printed, and whether they agree.
  const step = { command: 'curl http://localhost:8080/v1/jobs/a', shown: ['200 {"id":"a","state":"queued","queuedAt":"…"}'] }
  it.each([
    ['the same answer, any value where the README shows …', '{"id":"a","state":"queued","queuedAt":"2026-01-01T00:00:00Z"}\n200', true],
    ['another status', '{"id":"a","state":"queued","queuedAt":"x"}\n202', false],
    ['another value', '{"id":"a","state":"running","queuedAt":"x"}\n200', false],
    ['a field the README does not show', '{"id":"a","state":"queued","queuedAt":"x","attempts":0}\n200', false],
    ['a field missing', '{"id":"a","state":"queued"}\n200', false],
  ] as const)('readme quick start - %s', (_case, printed, agrees) => {
    expect(differences(step, printed).length === 0).toBe(agrees)
  })

  it('readme quick start - a command with its own -w is compared line by line, spaces aside', () => {
    const loop = { command: "for i in 1 2; do curl -s -o /dev/null -w '%{http_code}\\n' x; done | uniq -c", shown: ['      2 200'] }
    expect(differences(loop, '   2 200\n')).toEqual([])
    expect(differences(loop, '   1 200\n   1 503\n')).not.toEqual([])
  })
})

for (const name of ['quick-start', 'quick-start-shedding']) {
  // `make dev` needs a nats-server binary; `make test` builds one first, so this skips only outside make.
  const skipped = natsServer === undefined ? ' (skipped: no nats-server binary; run `make tools`)' : ''
  describe.skipIf(natsServer === undefined)(`readme quick start - ${name}${skipped}`, () => {
    const section = quickStartSection(readme, name)
    let dev: Dev | undefined

    beforeAll(async () => {
      dev = await startDev(section)
    }, 120_000)

    afterAll(async () => {
      await dev?.stop()
    }, STOP_TIMEOUT_MS + 10_000)

    it(`readme quick start - ${name}: every command answers as the README shows`, async () => {
      const problems: string[] = []
      for (const step of section.steps) {
        const { stdout } = await run('bash', ['-c', runnableCommand(step, dev!.port)], { timeout: 30_000 })
        for (const problem of differences(step, stdout)) problems.push(`${step.command}\n    ${problem}`)
      }
      expect(problems, `the README shows answers make dev does not give:\n${problems.join('\n')}`).toEqual([])
    }, 90_000)

    it(
      `readme quick start - ${name}: Ctrl-C lets the workers drain and exits 0`,
      async () => {
        const stopping = dev!
        dev = undefined
        expect(await stopping.stop()).toBe(0)
        expect(stopping.output()).not.toMatch(/exited \(|SIGKILL/)
      },
      STOP_TIMEOUT_MS + 10_000,
    )
  })
}
