import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, type Env } from '../support/queue-env.ts'
import { runSchemathesis, schemathesisSkipReason } from '../support/schemathesis.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

// A fixed seed and a bounded number of examples per operation, so a run is repeatable and short (about
// 10-20 s each on two busy cores); the kill bound is far above that. `--generation-database none` keeps
// examples found by earlier runs from changing what this one tries.
const SEED = '13'
const MAX_EXAMPLES = '40'
const RUN_TIMEOUT_MS = 150_000
const ARGS = [
  '--checks',
  'all',
  // DELETE /v1/jobs/<id> cancels a job, whose record stays readable as `cancelled` (docs/api.md): by
  // design it is not a 404 afterwards.
  '--exclude-checks',
  'use_after_free',
  '--seed',
  SEED,
  '--max-examples',
  MAX_EXAMPLES,
  '--generation-database',
  'none',
  '--workers',
  '1',
  '--request-timeout',
  '10',
  '--no-color',
]

const KEY = 'schemathesis-key-0000000001'
// No worker runs here, so a job's event stream stays open until its time bound: the shortest one keeps the
// many streams the tool opens (on jobs it queued) from adding minutes to a run.
const WATCH_ENV = { INGRESS_WATCH_MAX_MS: '100' }

const skipReason = schemathesisSkipReason()

// Schemathesis (a tool nobody here wrote) reads /openapi.json and sends every operation valid and invalid
// input, undeclared methods, missing parameters and odd content types; `--checks all` compares each answer
// (status, content type, headers, body) with the document. Any finding fails the suite with its report.
// The ingress runs as its own process on a real nats-server, without workers: the contract is the HTTP one.
describe.skipIf(skipReason !== undefined)(`openapi schemathesis${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let nats: NatsServerFixture
  const ingresses: AppProcess[] = []

  beforeAll(async () => {
    nats = await startNatsServer()
  })
  afterAll(async () => {
    for (const ingress of ingresses) await ingress.stop()
    await nats?.close()
  })

  async function check(env: Env, extraArgs: readonly string[] = []): Promise<void> {
    const ingress = await startApp('ingress', queueEnv(nats.url, env), 'warn')
    ingresses.push(ingress)
    const result = await runSchemathesis(`${ingress.baseUrl}/openapi.json`, [...ARGS, ...extraArgs], RUN_TIMEOUT_MS)
    console.info(
      `schemathesis (${Object.keys(env).length ? JSON.stringify(env) : 'defaults'}): ${result.seconds.toFixed(1)} s, ${result.ok ? 'no findings' : 'FINDINGS'}`,
    )
    expect(result.ok, result.output.slice(-20_000)).toBe(true)
    // The ingress must still be there: no answer killed it.
    expect(ingress.exit(), ingress.logTail(20)).toBeUndefined()
  }

  it('openapi schemathesis - the default configuration answers as its document says', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    await check(WATCH_ENV)
  })

  it('openapi schemathesis - with API keys on, too (401 without a key, as documented)', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-keys-'))
    writeFileSync(join(dir, 'keys'), `${KEY} submit,read,admin\n`)
    const env = { ...WATCH_ENV, INGRESS_AUTH: 'api-key', INGRESS_API_KEYS_FILE: join(dir, 'keys') }
    // The tool tries every operation without a key and with a wrong one; past 20 failed authentications a
    // minute an address gets 429 (auth-failures.ts). Half the operations per ingress keep each run under it.
    await check(env, ['--header', `Authorization: Bearer ${KEY}`, '--include-tag', 'jobs'])
    await check(env, ['--header', `Authorization: Bearer ${KEY}`, '--exclude-tag', 'jobs'])
  })

  // With callbacks on, the submission offers `callbackUrl` with the allowed prefixes as its pattern: every
  // URL the tool makes from it must be taken (202), and every other value refused (400). No worker runs, so
  // nothing is called back.
  it('openapi schemathesis - with job callbacks on, callbackUrl is taken exactly as its pattern says', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    await check({ ...WATCH_ENV, JOB_CALLBACK_ALLOWED_URLS: 'https://hooks.example.com/sluice/,http://10.0.0.5:8080' }, ['--include-tag', 'jobs'])
  })
})
