import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, AckPolicy } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetStreamBacklogSource } from '../../apps/autoscaler/src/backlog/jetstream-backlog-source.ts'
import { NatsConnections } from '../../apps/autoscaler/src/controller/nats-connections.ts'
import { controlPlaneSkipReason, locateBinaries } from '../controlplane/binaries.ts'
import { generatePki, type ControlPlanePki } from '../controlplane/pki.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'

// The operator reads each QueueScaler's backlog with the credentials and CA from its Secret; this is that
// path against a server that demands TLS and a password. (Local mode uses core's connectNats, proven in
// test/core/nats-security.test.ts.) Certificates come from the control plane's PKI tool.
const skipReason = controlPlaneSkipReason()
const logger = pino({ level: 'silent' })

describe.skipIf(skipReason !== undefined)(`autoscaler nats tls${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let pki: ControlPlanePki
  let server: NatsServerFixture
  const connections = new NatsConnections({ logger, connectTimeoutMs: 1500 })

  beforeAll(async () => {
    pki = await generatePki(locateBinaries().certgen, mkdtempSync(join(tmpdir(), 'sluice-autoscaler-pki-')))
    server = await startNatsServer({
      scheme: 'tls',
      config: `
        tls { cert_file: "${pki.apiserverCert}", key_file: "${pki.apiserverKey}" }
        authorization { users = [ { user: "scaler", password: "right-password" } ] }
      `,
    })
    // The queue to read, set up by an admin connection.
    const nc = await connect({ servers: server.url, user: 'scaler', pass: 'right-password', tls: { caFile: pki.caCert } })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'TLSJOBS', subjects: ['tlsjobs.>'] })
    await jsm.consumers.add('TLSJOBS', { durable_name: 'workers', ack_policy: AckPolicy.Explicit })
    for (let i = 0; i < 3; i++) await nc.request(`tlsjobs.${i}`, 'job')
    await nc.close()
  })
  afterAll(async () => {
    await connections.close()
    await server?.close()
  })

  it("autoscaler nats tls - reads the backlog over TLS with the Secret's CA and password", async () => {
    const nc = await connections.acquire('ns/scaler', server.url, { user: 'scaler', password: 'right-password', tls: { ca: readFileSync(pki.caCert, 'utf8') } })
    const reading = await jetStreamBacklogSource(nc, { stream: 'TLSJOBS', consumer: 'workers' }).read()
    expect(reading.backlog).toBe(3)
  })

  it('autoscaler nats tls - a wrong password or an unknown CA fails the read fast', async () => {
    await expect(
      connections.acquire('ns/bad-password', server.url, { user: 'scaler', password: 'wrong', tls: { ca: readFileSync(pki.caCert, 'utf8') } }),
    ).rejects.toThrow()
    await expect(connections.acquire('ns/no-ca', server.url, { user: 'scaler', password: 'right-password' })).rejects.toThrow()
  })
})
