import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { outcomeOf } from '../support/job-outcome.ts'
import { startJobLoad, type LoadResult } from '../support/load-generator.ts'
import { pinnedVersion, repoRoot } from '../support/repo-paths.ts'
import { expectIngressPodsWarmedUp } from './ingress-warm-up.ts'
import { expectOutcome, queueDrained } from './job-outcomes.ts'
import { expectNatsMemoryLimit } from './nats-memory-limit.ts'
import { curl, curlPostJob, getJson, helm, kubectl } from './kube.ts'
import { DOCUMENTED_LEFTOVERS, leftoversOncePodsStopped, releasePods, removeRelease, scalerCondition, scalerObserved, workerScale } from './release.ts'
import { seconds, Summary } from './summary.ts'
import { WorkerPodLogs } from './worker-pod-logs.ts'

// The user flows of issue 14 on the test cluster (make e2e): one release in a fresh namespace, each flow
// starting where the last left it. Jobs are the seed's `user` jobs of JOB_DURATION_MS (3 s, cluster-values).
const chartDir = join(repoRoot, 'charts', 'sluice')
const valuesFile = join(chartDir, 'ci', 'cluster-values.yaml')
const release = 'sluice'
const namespace = `e2e-${Date.now().toString(36)}`
const worker = `${release}-worker`
// A host of its own, so a release left by an interrupted run cannot answer for this one.
const ingressHost = `${namespace}.sluice.test`
// Traefik's Service inside the node's network namespace (tools/cluster/manifests/traefik.yaml).
const ingressController = 'http://198.18.1.80'
const values = readFileSync(valuesFile, 'utf8')
const maxReplicas = Number(/maxReplicas: (\d+)/.exec(values)?.[1])
const minReplicas = Number(/minReplicas: (\d+)/.exec(values)?.[1])

const summary = new Summary()
const logs = new WorkerPodLogs(namespace, `app.kubernetes.io/instance=${release},app.kubernetes.io/component=worker`)
let base = ''

function loadAgainst(target: string, prefix: string, ratePerSecond: number, maxRequests: number) {
  return startJobLoad({ targets: () => [target], ratePerSecond, maxInFlight: 32, idPrefix: prefix, maxRequests, requestTimeoutMs: 5000 })
}

function expectOnlyDocumentedAnswers(flow: string, result: LoadResult): void {
  expect(result.undocumented, `${flow}: answers outside the API's contract`).toEqual([])
}

describe('e2e - the chart on a real node', () => {
  beforeAll(async () => {
    expect(values, 'cluster-values.yaml names the NATS image of NATS_SERVER_VERSION').toContain(
      `tag: ${pinnedVersion('NATS_SERVER_VERSION').replace(/^v/, '')}`,
    )
    await kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s'])
  })

  afterAll(async () => {
    logs.stop()
    console.log(summary.render())
    await removeRelease(namespace, release)
  })

  it('e2e - helm install into a fresh namespace: every pod Ready', async () => {
    const started = Date.now()
    await helm([
      'install',
      release,
      chartDir,
      '-n',
      namespace,
      '--create-namespace',
      '-f',
      valuesFile,
      '--set',
      `ingress.ingressResource.host=${ingressHost}`,
      '--wait',
      '--timeout',
      '5m',
    ])
    summary.add('install', 'helm install --wait', seconds(Date.now() - started))
    const pods = await releasePods(namespace, release)
    expect(pods.filter((pod) => !pod.ready).map((pod) => pod.name)).toEqual([])
    for (const component of new Set(pods.map((pod) => pod.component))) {
      const times = pods.filter((pod) => pod.component === component).map((pod) => pod.startSeconds ?? Number.NaN)
      summary.add('install', `${component} pod created to Ready`, `${Math.max(...times)} s`)
    }
    // The chart turns the start-up warm-up on: each ingress pod warmed its accept path before it could be Ready.
    await expectIngressPodsWarmedUp(namespace, pods, summary)
    await expectNatsMemoryLimit(namespace, release, summary)
    const service = await getJson<{ spec: { clusterIP: string; ports: { port: number }[] } }>(['-n', namespace, 'service', `${release}-ingress`])
    base = `http://${service.spec.clusterIP}:${service.spec.ports[0]?.port}`
    logs.start()
  })

  it('e2e - helm test passes', async () => {
    const started = Date.now()
    const output = await helm(['test', release, '-n', namespace, '--timeout', '3m'])
    expect(output).toMatch(/Phase:\s+Succeeded/)
    summary.add('helm test', 'smoke test', seconds(Date.now() - started))
  })

  it('e2e - curl the seed route and the JSON API through the Service and through the Ingress', async () => {
    const ids: string[] = []
    for (const [via, url, headers] of [
      ['service', base, []],
      ['ingress', ingressController, ['-H', `Host: ${ingressHost}`]],
    ] as const) {
      // Traefik picks the Ingress up a moment after it is created.
      const seed = await eventually(
        `the seed route through the ${via}`,
        async () => {
          const answer = await curl([...headers, `${url}/?user_id=${via}-seed`])
          return answer.status === 200 ? answer : undefined
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      )
      expect(seed.body).toBe(`queuing user process: ${via}-seed`)
      const id = `${via}-json`
      const posted = await curlPostJob(url, { type: 'user', payload: { user_id: id } }, id, headers)
      expect(posted.status, posted.body).toBe(202)
      expect(JSON.parse(posted.body)).toMatchObject({ id, duplicate: false })
      const status = await curl([...headers, `${url}/v1/jobs/${id}`])
      expect(status.status).toBe(200)
      const queue = await curl([...headers, `${url}/v1/queue`])
      expect(JSON.parse(queue.body)).toMatchObject({ accepting: true })
      ids.push(id)
    }
    expectOutcome(summary, 'curl', await outcomeOf(base, ids, 60_000), { allowRedelivery: false })
    summary.add('curl', 'answers through Service and Ingress', 'seed 200, POST 202, GET 200 (both)')
  })

  it('e2e - a flood: the QueueScaler scales the workers up in one write, ≥ 2 pods process, the backlog drains, workers scale down', async () => {
    await queueDrained(base, 60_000)
    await eventually(
      'workers at minReplicas before the flood',
      async () => ((await workerScale(namespace, worker)).replicas === minReplicas ? true : undefined),
      120_000,
    )
    const before = await workerScale(namespace, worker)
    // The operator reads the backlog every pollIntervalSeconds: pause it while the flood is accepted, so its
    // first look after resuming sees the whole backlog, and its answer can be checked as one write.
    await kubectl(['-n', namespace, 'annotate', 'queuescaler', worker, 'sluice.dev/paused=true', '--overwrite'])
    await eventually('QueueScaler Paused', async () => ((await scalerCondition(namespace, worker, 'Paused')) === 'True' ? true : undefined), 60_000)
    const flood = await loadAgainst(base, 'flood', 200, 160).finished
    expectOnlyDocumentedAnswers('flood', flood)
    expect(flood.accepted.size).toBe(160)
    const resumed = Date.now()
    await kubectl(['-n', namespace, 'annotate', 'queuescaler', worker, 'sluice.dev/paused-'])
    const up = await eventually(
      'the workers scaled up',
      async () => {
        const scale = await workerScale(namespace, worker)
        return scale.replicas > minReplicas ? { ...scale, at: Date.now() } : undefined
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    expect(up.replicas, 'straight to maxReplicas (160 jobs / 10 per worker is past it)').toBe(maxReplicas)
    expect(up.generation - before.generation, 'spec writes for the scale-up').toBe(1)
    summary.add('flood', `resume to scale-up write (${minReplicas} -> ${up.replicas} workers)`, seconds(up.at - resumed))
    const firstPods = logs.podsThatStarted()
    const newWorkerBusy = await eventually(
      'a new worker pod processing',
      () => {
        const pods = logs.podsThatStarted()
        return [...pods].some((pod) => !firstPods.has(pod)) ? Date.now() : undefined
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    )
    summary.add('flood', 'resume to a new worker pod processing', seconds(newWorkerBusy - resumed))
    const allReady = await eventually(
      'every worker Ready',
      async () => ((await workerScale(namespace, worker)).ready === maxReplicas ? Date.now() : undefined),
      120_000,
    )
    summary.add('flood', `scale-up write to ${maxReplicas} workers Ready`, seconds(allReady - up.at))
    await queueDrained(base, 300_000)
    const drained = Date.now()
    summary.add('flood', `resume to backlog drained (160 jobs x 3 s)`, seconds(drained - resumed))
    const down = await eventually(
      'the workers scaled down',
      async () => ((await workerScale(namespace, worker)).replicas === minReplicas ? Date.now() : undefined),
      { timeoutMs: 180_000, intervalMs: 500 },
    )
    summary.add('flood', 'backlog drained to scale-down (stabilisation 20 s)', seconds(down - drained))
    // The removed pods drained on SIGTERM: had one dropped a job, it would have run twice (or been lost).
    expectOutcome(summary, 'flood', await outcomeOf(base, flood.accepted, 120_000), { allowRedelivery: false, logs })
    const pods = logs.podsThatFinished(flood.accepted)
    summary.add('flood', 'worker pods that processed flood jobs', pods.size)
    expect(pods.size).toBeGreaterThanOrEqual(2)
  })

  it('e2e - kubectl scale holds while sluice.dev/paused is set; sluice.dev/paused-replicas holds its number; then the operator takes over', async () => {
    const annotate = (...args: string[]) => kubectl(['-n', namespace, 'annotate', 'queuescaler', worker, ...args, '--overwrite'])
    await annotate('sluice.dev/paused=true')
    await eventually('QueueScaler Paused', async () => ((await scalerCondition(namespace, worker, 'Paused')) === 'True' ? true : undefined), 60_000)
    await kubectl(['-n', namespace, 'scale', 'deployment', worker, '--replicas=3'])
    // The operator reporting 3 current replicas proves it reconciled after the manual scale, and left it.
    await eventually('the operator to observe 3 workers', async () => ((await scalerObserved(namespace, worker)) === 3 ? true : undefined), 60_000)
    // Holding is an absence of writes: watch three of the operator's polls (pollIntervalSeconds: 2).
    const generation = (await workerScale(namespace, worker)).generation
    const holdUntil = Date.now() + 6_000
    while (Date.now() < holdUntil) {
      expect(await workerScale(namespace, worker)).toMatchObject({ replicas: 3, generation })
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    await annotate('sluice.dev/paused-', 'sluice.dev/paused-replicas=2')
    await eventually('paused-replicas=2 applied', async () => ((await workerScale(namespace, worker)).replicas === 2 ? true : undefined), 60_000)
    await annotate('sluice.dev/paused-replicas-')
    await eventually('QueueScaler resumed', async () => ((await scalerCondition(namespace, worker, 'Paused')) === 'False' ? true : undefined), 60_000)
    const resumed = Date.now()
    await eventually(
      'the operator back in charge (minReplicas on an empty queue)',
      async () => ((await workerScale(namespace, worker)).replicas === minReplicas ? true : undefined),
      120_000,
    )
    summary.add('paused', 'scale held at 3; paused-replicas held 2; resumed to min in', seconds(Date.now() - resumed))
  })

  it('e2e - helm upgrade with a changed setting rolls every pod while jobs are submitted: 0 accepted jobs lost', async () => {
    const before = await releasePods(namespace, release)
    const load = loadAgainst(base, 'upgrade', 8, 4000)
    let result: LoadResult
    try {
      await eventually('load running', () => (load.snapshot().accepted.size >= 20 ? true : undefined), 30_000)
      const started = Date.now()
      await helm([
        'upgrade',
        release,
        chartDir,
        '-n',
        namespace,
        '-f',
        valuesFile,
        '--set',
        `ingress.ingressResource.host=${ingressHost}`,
        '--set-string',
        'commonLabels.sluice-e2e-revision=2',
        '--wait',
        '--timeout',
        '5m',
      ])
      summary.add('upgrade', `helm upgrade --wait (from ${new Date(started).toISOString().slice(11, 23)}; every pod rolled)`, seconds(Date.now() - started))
      const acceptedAtEnd = load.snapshot().accepted.size
      await eventually('load after the upgrade', () => (load.snapshot().accepted.size >= acceptedAtEnd + 20 ? true : undefined), 30_000)
    } finally {
      result = await load.stop()
    }
    expectOnlyDocumentedAnswers('upgrade', result)
    const after = await releasePods(namespace, release)
    const kept = after.filter((pod) => before.some((old) => old.uid === pod.uid)).map((pod) => pod.name)
    expect(kept, 'pods that did not roll').toEqual([])
    summary.add('upgrade', 'submitted / refused 503 / no answer', `${result.sent} / ${result.refused503} / ${result.connectionErrors}`)
    expectOutcome(summary, 'upgrade', await outcomeOf(base, result.accepted, 180_000), { allowRedelivery: true, logs })
  })

  it('e2e - deleting a worker pod mid-job: 0 accepted jobs lost', async () => {
    const batch = await loadAgainst(base, 'kill-worker', 50, 12).finished
    const victim = await eventually(
      'a worker pod in the middle of a job',
      () => {
        for (const id of batch.accepted) {
          const pod = logs.firstStartedOn(id)
          if (pod) return pod
        }
        return undefined
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    )
    await kubectl(['-n', namespace, 'delete', 'pod', victim, '--wait=false'])
    summary.add('delete worker', 'deleted pod', victim)
    expectOutcome(summary, 'delete worker', await outcomeOf(base, batch.accepted, 180_000), { allowRedelivery: true, logs })
  })

  it('e2e - deleting the NATS pod (its volume kept): 0 accepted jobs lost', async () => {
    const pvcBefore = await getJson<{ metadata: { uid: string } }>(['-n', namespace, 'pvc', `data-${release}-nats-0`])
    const load = loadAgainst(base, 'kill-nats', 8, 4000)
    let result: LoadResult
    try {
      await eventually('load running', () => (load.snapshot().accepted.size >= 20 ? true : undefined), 30_000)
      const deleted = Date.now()
      await kubectl(['-n', namespace, 'delete', 'pod', `${release}-nats-0`, '--wait=true'], 120_000)
      await kubectl(['-n', namespace, 'wait', '--for=condition=Ready', `pod/${release}-nats-0`, '--timeout=180s'], 200_000)
      summary.add('delete NATS', `delete (at ${new Date(deleted).toISOString().slice(11, 23)}) to NATS pod Ready again`, seconds(Date.now() - deleted))
      const acceptedAtReady = load.snapshot().accepted.size
      await eventually('jobs accepted again after NATS is back', () => (load.snapshot().accepted.size >= acceptedAtReady + 20 ? true : undefined), 60_000)
    } finally {
      result = await load.stop()
    }
    expectOnlyDocumentedAnswers('delete NATS', result)
    const pvcAfter = await getJson<{ metadata: { uid: string } }>(['-n', namespace, 'pvc', `data-${release}-nats-0`])
    expect(pvcAfter.metadata.uid, 'the same volume claim').toBe(pvcBefore.metadata.uid)
    summary.add('delete NATS', 'submitted / refused 503 / no answer', `${result.sent} / ${result.refused503} / ${result.connectionErrors}`)
    expectOutcome(summary, 'delete NATS', await outcomeOf(base, result.accepted, 180_000), { allowRedelivery: true, logs })
  })

  it('e2e - helm uninstall leaves nothing but what the chart documents', async () => {
    await queueDrained(base, 120_000)
    await helm(['uninstall', release, '-n', namespace, '--wait', '--timeout', '3m'])
    const left = await leftoversOncePodsStopped(namespace, release)
    expect(left.filter((name) => !DOCUMENTED_LEFTOVERS.some((pattern) => pattern.test(name)))).toEqual([])
    summary.add('uninstall', 'left (documented)', [...new Set(left.map((name) => name.split('/')[0]))].join(', '))
  })
})
