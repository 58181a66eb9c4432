import { execFileSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { settledJob, submittedJob } from '../support/job-api.ts'
import { startManagedProcess, type ManagedProcess } from '../support/managed-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'
import { repoRoot } from '../support/repo-paths.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const PYTHON_WORKER = join(repoRoot, 'examples', 'python-worker', 'worker.py')
const TS_EXAMPLE = join(repoRoot, 'examples', 'typescript-handlers')
// The interpreter of the venv `make python-worker-tool` makes, with the pinned nats-py.
const PYTHON = process.env.PYTHON_WORKER_BIN ?? join(repoRoot, '.tools', 'python-worker', 'bin', 'python')

function hasCommand(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const inCi = ['', 'false', '0'].includes(process.env.CI ?? '') === false
// Without Python the example cannot run: a note on a developer's machine, a failure in CI.
const skipReason = !existsSync(PYTHON) && !hasCommand('python3') && !inCi ? 'python3 is not installed (the Python worker example needs it)' : undefined

describe.skipIf(skipReason !== undefined)(`examples/python-worker${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: NatsServerFixture
  let ingress: AppProcess
  let tsWorker: AppProcess
  let pyWorker: ManagedProcess
  let env: Env
  // Job callbacks' receiver: requests by path; `/flaky/` answers 503 to the first request.
  let receiver: Server
  let receiverBase: string
  const callbacks = new Map<string, { headers: IncomingHttpHeaders; body: string }[]>()
  const CALLBACK_SECRET = 'python-callback-secret'

  beforeAll(async () => {
    // The venv is made once, by the make target the Makefile's `unit` runs too (idempotent).
    if (!existsSync(PYTHON)) execFileSync('make', ['python-worker-tool'], { cwd: repoRoot, stdio: 'inherit' })
    server = await startNatsServer()
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const seen = callbacks.get(request.url ?? '') ?? []
        seen.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
        callbacks.set(request.url ?? '', seen)
        response.writeHead(request.url?.startsWith('/flaky/') && seen.length === 1 ? 503 : 204).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
    env = queueEnv(server.url, {
      JOB_CALLBACK_ALLOWED_URLS: `${receiverBase}/`,
      JOB_CALLBACK_SIGNING_SECRET: CALLBACK_SECRET,
      JOB_CALLBACK_RETRY_BACKOFF_MS: '100',
      JOB_TYPES_FILE: join(TS_EXAMPLE, 'job-types.json'),
      WORKER_HANDLERS_MODULE: join(TS_EXAMPLE, 'handlers.ts'),
      JOB_RESULT_MAX_BYTES: '1024',
      QUEUE_MAX_DELIVER: '2',
      QUEUE_RETRY_BACKOFF_MS: '50',
      WORKER_CONCURRENCY: '4',
    })
    ingress = await startApp('ingress', env)
    // The TypeScript worker creates the shared consumer; the Python worker binds to it.
    tsWorker = await startApp('worker', env)
    pyWorker = startManagedProcess({
      name: 'python-worker',
      command: PYTHON,
      args: [PYTHON_WORKER],
      logPath: join(mkdtempSync(join(tmpdir(), 'sluice-python-')), 'python-worker.log'),
      env,
      cwd: repoRoot,
    })
    await eventually('the Python worker to start', () => {
      if (pyWorker.exit()) throw new Error(`the Python worker exited:\n${pyWorker.logTail(30)}`)
      return pyWorker.log().includes('"worker started"') ? true : undefined
    })
  }, 180_000)
  afterAll(async () => {
    await pyWorker?.stop(10_000)
    await tsWorker?.stop()
    await ingress?.stop()
    receiver?.closeAllConnections()
    await new Promise((resolve) => receiver?.close(resolve))
    await server?.close()
  })

  const submit = (type: string, payload: unknown) => submittedJob(ingress.baseUrl, type, payload)
  const settled = (id: string) => settledJob(ingress.baseUrl, id)

  const ranInPython = (id: string) => pyWorker.log().includes(`"jobId": "${id}"`)

  it('python worker - jobs from one queue are processed by a Python and a TypeScript worker, each state and result visible through the API', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => submit('greet', { name: `n${i}` })))
    const statuses = await Promise.all(ids.map((id) => settled(id)))
    expect(statuses).toEqual(ids.map((_, i) => expect.objectContaining({ state: 'succeeded', attempts: 1, result: { greeting: `Hello, n${i}!` } })))
    // Each worker logs or counts a job after its ack, a moment after the state the API showed: wait for all 40.
    const tally = async () => {
      const metrics = await (await fetch(`${tsWorker.baseUrl}/metrics`)).text()
      const byTypeScript = Number(/sluice_worker_jobs_total\{type="greet",outcome="succeeded"\} (\d+)/.exec(metrics)?.[1] ?? 0)
      return { byPython: ids.filter(ranInPython).length, byTypeScript }
    }
    const { byPython, byTypeScript } = await eventually('both workers to have logged or counted all 40 jobs', async () => {
      const counts = await tally()
      return counts.byPython + counts.byTypeScript >= 40 ? counts : undefined
    })
    expect(byPython).toBeGreaterThan(0)
    expect(byTypeScript).toBeGreaterThan(0)
    expect(byPython + byTypeScript).toBe(40)
  })

  it('python worker - its dead letters and retries follow the protocol: a permanent failure is dead at once, an oversize result after the last attempt', async () => {
    // Only the Python worker is left to take these jobs.
    await tsWorker.stop()
    const noWords = await submit('word-count', { text: '   ' })
    expect(await settled(noWords)).toMatchObject({ state: 'dead', attempts: 1, error: 'the text has no words' })
    const big = await submit('echo', { text: 'x'.repeat(2000) })
    expect(await settled(big)).toMatchObject({ state: 'dead', attempts: 2, error: 'the result is 2011 bytes of JSON, over JOB_RESULT_MAX_BYTES (1024)' })
    // The Python worker logs a dead letter after its term, a moment after the state the API showed.
    await eventually('the Python worker to log both dead letters', () => (ranInPython(noWords) && ranInPython(big) ? true : undefined), 10_000)
    const listing = (await (await fetch(`${ingress.baseUrl}/v1/dead-letters`)).json()) as { items: { id: string; error: string; attempts: number }[] }
    expect(listing.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: noWords, error: 'the text has no words', attempts: 1 }),
        expect.objectContaining({ id: big, attempts: 2 }),
      ]),
    )
  })
  it('python worker - scheduled jobs: it lets them wait, runs them once due, and counts the wait as no attempt', async () => {
    // Only the Python worker is left (a test above stopped the TypeScript one).
    const accepted = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        const response = await fetch(`${ingress.baseUrl}/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'greet', payload: { name: `later${i}` }, delayMs: 1500 }),
        })
        expect(response.status).toBe(202)
        return (await response.json()) as { id: string; runAt: string }
      }),
    )
    for (const { id, runAt } of accepted) {
      const status = (await settled(id)) as { state: string; attempts: number; startedAt: string }
      expect(status).toMatchObject({ state: 'succeeded', attempts: 1 })
      expect(Date.parse(status.startedAt)).toBeGreaterThanOrEqual(Date.parse(runAt))
    }
    await eventually('the Python worker to log the scheduled jobs', () => (accepted.every(({ id }) => ranInPython(id)) ? true : undefined), 10_000)
  })

  it("python worker - with API keys on, the jobs it runs and dead-letters stay their submitting key's (Sluice-Owner copied into states and dead letters)", async () => {
    // Only the Python worker is left (the test above stopped the TypeScript one); a second ingress with keys.
    const [owner, other, admin] = ['python-owner-key-Tq8wN3vR6yP1', 'python-other-key-Lm2xK7cZ4sH9', 'python-admin-key-Bv5jD1gF8kQ3']
    const keys = join(mkdtempSync(join(tmpdir(), 'sluice-keys-')), 'keys')
    writeFileSync(keys, `${owner}\n${other}\n${admin} submit,read,admin\n`)
    const keyed = await startApp('ingress', { ...env, INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: keys })
    try {
      const call = (key: string, method: string, path: string, body?: unknown) =>
        fetch(`${keyed.baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      const submitAs = async (type: string, payload: unknown): Promise<string> =>
        ((await (await call(owner, 'POST', '/v1/jobs', { type, payload })).json()) as { id: string }).id
      const stateAs = async (key: string, id: string): Promise<Record<string, unknown> | undefined> => {
        const response = await call(key, 'GET', `/v1/jobs/${id}`)
        return response.status === 200 ? ((await response.json()) as Record<string, unknown>) : undefined
      }
      const finalState = (id: string) =>
        eventually(`job ${id} to settle`, async () => {
          const status = await stateAs(admin, id)
          return status?.state === 'succeeded' || status?.state === 'dead' ? status : undefined
        })

      const greeted = await submitAs('greet', { name: 'Ada' })
      expect(await finalState(greeted)).toMatchObject({ state: 'succeeded' })
      await eventually('the Python worker to log the greeting', () => (ranInPython(greeted) ? true : undefined), 10_000)
      expect(await stateAs(owner, greeted)).toMatchObject({ state: 'succeeded', result: { greeting: 'Hello, Ada!' } })
      expect((await call(other, 'GET', `/v1/jobs/${greeted}`)).status).toBe(404)

      const dead = await submitAs('word-count', { text: ' ' })
      expect(await finalState(dead)).toMatchObject({ state: 'dead' })
      expect((await call(admin, 'POST', `/v1/dead-letters/${dead}/redrive`)).status).toBe(202)
      expect(await stateAs(owner, dead)).toBeDefined()
      expect((await call(other, 'GET', `/v1/jobs/${dead}`)).status).toBe(404)
    } finally {
      await keyed.stop()
    }
  })

  it('python worker - it calls a job back once with its final state, signed, retrying a 503 (docs/wire-protocol.md#callbacks)', async () => {
    // Only the Python worker is left (the tests above stopped the TypeScript one).
    const submitWithCallback = async (type: string, payload: unknown, path: string): Promise<string> => {
      const response = await fetch(`${ingress.baseUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type, payload, callbackUrl: `${receiverBase}${path}` }),
      })
      expect(response.status).toBe(202)
      return ((await response.json()) as { id: string }).id
    }
    const cases = [
      { path: '/ok/greet?token=x', id: await submitWithCallback('greet', { name: 'Ada' }, '/ok/greet?token=x'), requests: 1 },
      { path: '/ok/dead', id: await submitWithCallback('word-count', { text: ' ' }, '/ok/dead'), requests: 1 },
      { path: '/flaky/greet', id: await submitWithCallback('greet', { name: 'Bo' }, '/flaky/greet'), requests: 2 },
    ]
    for (const { path, id, requests } of cases) {
      const status = await settled(id)
      const received = await eventually(`${requests} callback request(s) to ${path}`, () =>
        (callbacks.get(path)?.length ?? 0) >= requests ? callbacks.get(path)! : undefined,
      )
      expect(ranInPython(id)).toBe(true)
      const last = received.at(-1)!
      expect(JSON.parse(last.body)).toEqual(status)
      expect(last.headers).toMatchObject({ 'sluice-job-id': id, 'sluice-job-state': status.state, 'sluice-callback-attempt': String(requests) })
      const timestamp = String(last.headers['sluice-timestamp'])
      const expected = createHmac('sha256', CALLBACK_SECRET).update(`${timestamp}.${last.body}`).digest('hex')
      expect(last.headers['sluice-signature']).toBe(`v1=${expected}`)
      expect(new Set(received.map((request) => request.headers['sluice-callback-id'])).size).toBe(1)
    }
    await eventually('the Python worker to log the retried callback delivered', () =>
      /"msg": "job callback delivered", "attempt": 2, "status": 204/.test(pyWorker.log()) ? true : undefined,
    )
    expect(pyWorker.log()).not.toContain('token=x')
    expect(callbacks.get('/flaky/greet')).toHaveLength(2)
  })
})
