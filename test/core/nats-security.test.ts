import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { controlPlaneSkipReason, locateBinaries } from '../controlplane/binaries.ts'
import { generatePki, type ControlPlanePki } from '../controlplane/pki.ts'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import { startApp } from '../support/sluice-processes.ts'

// The certificates come from the control plane's PKI tool: a CA, a serving certificate for 127.0.0.1
// (used here by nats-server) and a client certificate (used by the apps).
const skipReason = controlPlaneSkipReason()

describe.skipIf(skipReason !== undefined)(`nats security${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let pki: ControlPlanePki
  let server: NatsServerFixture
  let tlsEnv: Record<string, string>

  beforeAll(async () => {
    pki = await generatePki(locateBinaries().certgen, mkdtempSync(join(tmpdir(), 'sluice-nats-pki-')))
    server = await startNatsServer({
      scheme: 'tls',
      config: `
        tls { cert_file: "${pki.apiserverCert}", key_file: "${pki.apiserverKey}", ca_file: "${pki.caCert}", verify: true }
        authorization { users = [ { user: "sluice", password: "right-password" } ] }
      `,
    })
    tlsEnv = { NATS_TLS_CA_FILE: pki.caCert, NATS_TLS_CERT_FILE: pki.adminCert, NATS_TLS_KEY_FILE: pki.adminKey }
  })
  afterAll(async () => {
    await server?.close()
  })

  it('nats security - the ingress and a worker connect with a password over mutual TLS and run a job', async () => {
    const env = queueEnv(server.url, { ...tlsEnv, NATS_USER: 'sluice', NATS_PASSWORD: 'right-password' })
    const ingress = await startIngress(env)
    const worker = await startWorker({ ...env, JOB_DURATION_MS: '1' })
    try {
      const response = await ingress.app.inject({ method: 'GET', url: '/?user_id=tls' })
      expect(response.statusCode).toBe(200)
      await eventually('the job to run', async () => ((await ingress.app.inject({ method: 'GET', url: '/v1/queue' })).json().depth === 0 ? true : undefined))
    } finally {
      await worker.close()
      await ingress.close()
    }
  })

  it('nats security - a wrong password stops start-up with a clear message', async () => {
    const env = queueEnv(server.url, { ...tlsEnv, NATS_USER: 'sluice', NATS_PASSWORD: 'wrong-password' })
    // Not retried forever: the process exits at once, naming the problem.
    await expect(startApp('ingress', env)).rejects.toThrow(/exited early[\s\S]*NATS at tls:\/\/127\.0\.0\.1:\d+ refused the credentials/)
  })

  it('nats security - without the client certificate the server refuses the connection', async () => {
    const env = queueEnv(server.url, { NATS_TLS_CA_FILE: pki.caCert, NATS_USER: 'sluice', NATS_PASSWORD: 'right-password', NATS_CONNECT_TIMEOUT_MS: '500' })
    // A TLS failure may be the server's configuration being rolled out: the app keeps trying, not ready.
    await expect(startApp('worker', env, 'info', 4000)).rejects.toThrow(/did not become ready[\s\S]*nats not reachable yet/)
  })
})
