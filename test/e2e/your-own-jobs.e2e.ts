import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { repoRoot } from '../support/repo-paths.ts'
import { outcomeOf } from '../support/job-outcome.ts'
import { expectOutcome } from './job-outcomes.ts'
import { curl, curlPostJob, getJson, helm, kubectl } from './kube.ts'
import { pushEndpointManifests } from './push-endpoint.ts'
import { releasePods, removeRelease, scalerObserved, workerScale } from './release.ts'
import { seconds, Summary } from './summary.ts'

// Issue 16 on the real node: the chart's TypeScript handlers recipe with the workers on the example image that
// tools/cluster/images.sh builds from examples/typescript-handlers/Dockerfile, the job types mounted from
// jobTypes, and HTTP push to a signed endpoint of the user's whose Deployment a QueueScaler scales. A release
// of its own, as small as the flows allow (one ingress, no Ingress resource), in a namespace of its own.
const chartDir = join(repoRoot, 'charts', 'sluice')
const release = 'own'
const namespace = `e2e-own-${Date.now().toString(36)}`
const endpoint = 'shout-endpoint'
const signing = { name: 'push-signing', key: 'signing-secret' }
const handlersImage = { repository: 'localhost/sluice-example-handlers', tag: 'dev' }

// Beyond the recipe: the cluster's images and volumes (cluster-values.yaml), a pushed type `shout` the example
// handlers do not define, its endpoint, the signing key and the endpoint's scaling.
const overrides = {
  ingress: { replicas: 1, ingressResource: { enabled: false } },
  worker: {
    image: handlersImage,
    http: {
      signingSecret: { existingSecret: signing.name, key: signing.key },
      scaledDeployments: [{ name: endpoint, minReplicas: 1, maxReplicas: 3, targetBacklogPerReplica: 4, scaleDownStabilizationSeconds: 5 }],
    },
  },
  jobTypes: {
    shout: { payload: { type: 'object', required: ['text'], properties: { text: { type: 'string' }, workMs: { type: 'integer', maximum: 10000 } } } },
  },
  config: { WORKER_HTTP_TYPE_URLS: `shout=http://${endpoint}:8080/shout` },
  tests: { jobs: 2 },
}

const summary = new Summary()
const workdir = mkdtempSync(join(tmpdir(), 'sluice-e2e-own-'))
let base = ''

interface JobView {
  state: string
  attempts: number
  result?: unknown
  error?: unknown
}

async function submit(body: object, id?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await curlPostJob(base, body, id)
  return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> }
}

/** GET /v1/jobs/<id> until the job has reached `state` (30 s). */
async function jobReaching(id: string, state: string): Promise<JobView> {
  return eventually(
    `job ${id} ${state}`,
    async () => {
      const answer = await curl([`${base}/v1/jobs/${id}`])
      const job = JSON.parse(answer.body) as JobView
      return job.state === state ? job : undefined
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
}

describe('e2e - your own jobs on a real node', () => {
  beforeAll(async () => {
    await kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s'])
    await kubectl(['create', 'namespace', namespace])
    await kubectl(['-n', namespace, 'create', 'secret', 'generic', signing.name, `--from-literal=${signing.key}=${randomBytes(32).toString('hex')}`])
    const manifests = join(workdir, 'endpoint.json')
    writeFileSync(
      manifests,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: pushEndpointManifests({ name: endpoint, namespace, image: 'localhost/sluice:dev', secret: signing }),
      }),
    )
    await kubectl(['apply', '-f', manifests])
  })

  afterAll(async () => {
    console.log(summary.render())
    await removeRelease(namespace, release)
    rmSync(workdir, { recursive: true, force: true })
  })

  it('e2e own jobs - helm install of the TypeScript handlers recipe: the workers run the example image, every pod Ready', async () => {
    const values = join(workdir, 'values.json')
    writeFileSync(values, JSON.stringify(overrides))
    const started = Date.now()
    await helm([
      'install',
      release,
      chartDir,
      '-n',
      namespace,
      '-f',
      join(chartDir, 'ci', 'cluster-values.yaml'),
      '-f',
      join(chartDir, 'examples', 'typescript-handlers-values.yaml'),
      '-f',
      values,
      '--wait',
      '--timeout',
      '5m',
    ])
    summary.add('own jobs', 'helm install --wait', seconds(Date.now() - started))
    const pods = await releasePods(namespace, release)
    expect(pods.filter((pod) => !pod.ready)).toEqual([])
    const worker = await getJson<{ spec: { template: { spec: { containers: { image: string }[] } } } }>([
      '-n',
      namespace,
      'deployment',
      `${release}-sluice-worker`,
    ])
    expect(worker.spec.template.spec.containers[0]?.image).toBe(`${handlersImage.repository}:${handlersImage.tag}`)
    const service = await getJson<{ spec: { clusterIP: string; ports: { port: number }[] } }>(['-n', namespace, 'service', `${release}-sluice-ingress`])
    base = `http://${service.spec.clusterIP}:${service.spec.ports[0]?.port}`
  })

  it('e2e own jobs - helm test enqueues greet jobs (tests.jobType) and they succeed', async () => {
    const started = Date.now()
    expect(await helm(['test', release, '-n', namespace, '--timeout', '3m'])).toMatch(/Phase:\s+Succeeded/)
    summary.add('own jobs', 'helm test (greet)', seconds(Date.now() - started))
  })

  it("e2e own jobs - through the ingress: the example's handlers return their results, and the mounted job types refuse what breaks them", async () => {
    const greet = await submit({ type: 'greet', payload: { name: 'Ada' } })
    expect(greet.status, JSON.stringify(greet.body)).toBe(202)
    expect(await jobReaching(String(greet.body.id), 'succeeded')).toMatchObject({ attempts: 1, result: { greeting: 'Hello, Ada!' } })
    const words = await submit({ type: 'word-count', payload: { text: 'one two three' } })
    expect((await jobReaching(String(words.body.id), 'succeeded')).result).toEqual({ words: 3 })

    // The ingress reads the chart's job types file: unknown types and bad payloads never reach the queue.
    const unknown = await submit({ type: 'resize', payload: {} })
    expect(unknown.status).toBe(400)
    expect(String(unknown.body.detail)).toContain('unknown job type "resize"')
    const bad = await submit({ type: 'greet', payload: { name: 42 } })
    expect(bad.status).toBe(400)
    expect(String(bad.body.detail)).toContain('the schema of job type "greet"')
    summary.add('own jobs', 'greet, word-count results; unknown type, bad payload', '202 + result, 400, 400')
  })

  it("e2e own jobs - HTTP push: a shout job is POSTed, signed with the Secret's key, to the endpoint's Service, and its JSON answer is the result", async () => {
    const shout = await submit({ type: 'shout', payload: { text: 'hi' } })
    expect(shout.status, JSON.stringify(shout.body)).toBe(202)
    // The endpoint answers 401 to a request it cannot verify, which would dead-letter the job.
    const job = await jobReaching(String(shout.body.id), 'succeeded')
    expect(job.result).toMatchObject({ shouted: 'HI', pod: expect.stringMatching(new RegExp(`^${endpoint}-`)) })
  })

  it("e2e own jobs - a flood of slow shout jobs: the endpoint's QueueScaler scales its Deployment up, every job succeeds, then it scales back", async () => {
    const run = Date.now().toString(36)
    const ids: string[] = []
    const started = Date.now()
    for (let i = 0; i < 16; i++) {
      const answer = await submit({ type: 'shout', payload: { text: `job ${i}`, workMs: 3000 } }, `shout-${run}-${i}`)
      expect(answer.status).toBe(202)
      ids.push(String(answer.body.id))
    }
    // 16 waiting at 4 per pod: 4, capped at the endpoint's maxReplicas (3).
    await eventually('the endpoint scaled to 3', async () => ((await workerScale(namespace, endpoint)).replicas === 3 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 500,
    })
    summary.add('own jobs', 'endpoint scaled 1 -> 3 after', seconds(Date.now() - started))
    const outcome = await outcomeOf(base, ids, 90_000)
    expectOutcome(summary, 'own jobs: shout flood', outcome, { allowRedelivery: true })
    await eventually(
      'the endpoint back at its minReplicas (1)',
      async () =>
        (await workerScale(namespace, endpoint)).replicas === 1 && (await scalerObserved(namespace, `${release}-sluice-http-${endpoint}`)) === 1
          ? true
          : undefined,
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    summary.add('own jobs', 'flood drained, endpoint back to 1 after', seconds(Date.now() - started))
  })
})
