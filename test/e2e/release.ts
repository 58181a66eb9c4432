import { eventually } from '../support/eventually.ts'
import { getJson, helm, kubectl } from './kube.ts'

/** One pod as the suite reads it. */
export interface PodFacts {
  readonly name: string
  readonly uid: string
  readonly component: string
  readonly ready: boolean
  /** Seconds from the pod's creation to its Ready condition (whole seconds: the API's resolution). */
  readonly startSeconds?: number
}

interface PodJson {
  metadata: { name: string; uid: string; creationTimestamp: string; labels?: Record<string, string>; deletionTimestamp?: string }
  status: { conditions?: { type: string; status: string; lastTransitionTime: string }[] }
}

/** The release's pods (the smoke test's excluded), Terminating ones left out. */
export async function releasePods(namespace: string, release: string): Promise<PodFacts[]> {
  const pods = await getJson<{ items: PodJson[] }>(['-n', namespace, 'pods', '-l', `app.kubernetes.io/instance=${release}`])
  return pods.items
    .filter((pod) => !pod.metadata.deletionTimestamp)
    .map((pod) => {
      const ready = pod.status.conditions?.find((condition) => condition.type === 'Ready')
      const isReady = ready?.status === 'True'
      const startSeconds = isReady ? (Date.parse(ready.lastTransitionTime) - Date.parse(pod.metadata.creationTimestamp)) / 1000 : undefined
      return {
        name: pod.metadata.name,
        uid: pod.metadata.uid,
        component: pod.metadata.labels?.['app.kubernetes.io/component'] ?? '?',
        ready: isReady,
        startSeconds,
      }
    })
    .filter((pod) => pod.component !== 'smoke-test')
}

/** The worker Deployment's desired replicas and generation (one spec write = one generation). */
export async function workerScale(namespace: string, deployment: string): Promise<{ replicas: number; generation: number; ready: number }> {
  const d = await getJson<{ spec: { replicas: number }; metadata: { generation: number }; status: { readyReplicas?: number } }>([
    '-n',
    namespace,
    'deployment',
    deployment,
  ])
  return { replicas: d.spec.replicas, generation: d.metadata.generation, ready: d.status.readyReplicas ?? 0 }
}

/** A condition of the QueueScaler, e.g. `Paused`. */
export async function scalerCondition(namespace: string, scaler: string, type: string): Promise<string | undefined> {
  const s = await getJson<{ status?: { conditions?: { type: string; status: string }[] } }>(['-n', namespace, 'queuescaler', scaler])
  return s.status?.conditions?.find((condition) => condition.type === type)?.status
}

/** The QueueScaler's `status.currentReplicas`: what the operator last observed. */
export async function scalerObserved(namespace: string, scaler: string): Promise<number | undefined> {
  const s = await getJson<{ status?: { currentReplicas?: number } }>(['-n', namespace, 'queuescaler', scaler])
  return s.status?.currentReplicas
}

/**
 * Every object left in `namespace` (namespaced kinds that can be listed) and every cluster-scoped object
 * labelled with the release, as `kind/name`.
 */
export async function leftovers(namespace: string, release: string): Promise<string[]> {
  const namespaced = (await kubectl(['api-resources', '--verbs=list', '--namespaced', '-o', 'name'])).split('\n').filter(Boolean)
  const found = (await kubectl(['-n', namespace, 'get', namespaced.join(','), '-o', 'name', '--ignore-not-found'], 120_000)).split('\n').filter(Boolean)
  const clusterScoped = (await kubectl(['api-resources', '--verbs=list', '--namespaced=false', '-o', 'name'])).split('\n').filter(Boolean)
  const labelled = (await kubectl(['get', clusterScoped.join(','), '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name', '--ignore-not-found'], 120_000))
    .split('\n')
    .filter(Boolean)
  return [...found, ...labelled].sort()
}

/**
 * What docs/helm-and-kind.md documents as staying after `helm uninstall` (section "Uninstalling"): the NATS
 * volume claim (data outlives the release), the autoscaler's leader-election Lease (made at run time, not by
 * the chart), Events; and what every namespace has.
 */
export const DOCUMENTED_LEFTOVERS: readonly RegExp[] = [
  /^persistentvolumeclaim\/data-sluice-nats-\d+$/,
  /^lease\.coordination\.k8s\.io\/sluice-autoscaler$/,
  /^event(\.events\.k8s\.io)?\//,
  /^configmap\/kube-root-ca\.crt$/,
  /^serviceaccount\/default$/,
]

/**
 * The leftovers (see `leftovers`) once the release's pods are gone: helm waits for the objects it deleted,
 * and their pods then stop within their grace periods (NATS: 60 s).
 */
export function leftoversOncePodsStopped(namespace: string, release: string): Promise<string[]> {
  return eventually(
    "the release's pods gone",
    async () => {
      const names = await leftovers(namespace, release)
      return names.some((name) => name.startsWith('pod/')) ? undefined : names
    },
    { timeoutMs: 150_000, intervalMs: 2000 },
  )
}

/**
 * Whatever a suite did, leaves the cluster as it found it: the release uninstalled and its namespace (with
 * any claimed volume) deleted. Errors are swallowed: it runs in `afterAll`, after failures too.
 */
export async function removeRelease(namespace: string, release: string): Promise<void> {
  await helm(['uninstall', release, '-n', namespace, '--wait', '--ignore-not-found']).catch(() => undefined)
  await kubectl(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=true'], 180_000).catch(() => undefined)
}
