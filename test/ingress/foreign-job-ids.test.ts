import { jetstream } from '@nats-io/jetstream'
import { headers } from '@nats-io/nats-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jobIdFromSubject } from '../../packages/core/src/job-message.ts'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

// Other NATS clients may publish jobs straight onto the subjects (`nats pub jobs.a.b`), with ids the API
// never hands out. Each must get one valid id, the same in the worker, the job states, the dead letters
// and the API.
describe('foreign job ids', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker
  let env: Record<string, string>

  beforeAll(async () => {
    nats = await startNatsServer()
    env = queueEnv(nats.url)
    ingress = await startIngress(env)
    worker = await startWorker(env)
  })
  afterAll(async () => {
    await worker?.close()
    await ingress?.close()
    await nats?.close()
  })

  async function publishForeign(rest: string, type: string): Promise<string> {
    const subject = `${env.QUEUE_SUBJECT_PREFIX}.${rest}`
    const h = headers()
    h.set('Sluice-Job-Type', type)
    await jetstream(ingress.nats.nc).publish(subject, JSON.stringify({ from: 'another client' }), { headers: h })
    return jobIdFromSubject(subject, env.QUEUE_SUBJECT_PREFIX!)
  }

  it('foreign job ids - jobs on subjects with dots or non-ASCII characters run, and their state is found under the mapped id', async () => {
    for (const rest of ['a.b', 'é', 'deep.er.still']) {
      const id = await publishForeign(rest, 'noop')
      const status = await eventually(`the state of ${rest}`, async () => {
        const answer = await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })
        return answer.statusCode === 200 && answer.json<{ state: string }>().state === 'succeeded' ? answer.json() : undefined
      })
      expect(status).toMatchObject({ id, type: 'noop', state: 'succeeded' })
    }
  })

  it('foreign job ids - a dead-lettered one is listed and redriven under the same id', async () => {
    const id = await publishForeign('no.handler', 'no-such-type')
    const listed = await eventually('the dead letter', async () => {
      const page = (await ingress.app.inject({ method: 'GET', url: '/v1/dead-letters?limit=100' })).json<{ items: Array<{ id: string }> }>()
      return page.items.find((item) => item.id === id)
    })
    expect(listed.id).toBe(id)
    const redrive = await ingress.app.inject({ method: 'POST', url: `/v1/dead-letters/${id}/redrive` })
    expect(redrive.statusCode).toBe(202)
  })
})
