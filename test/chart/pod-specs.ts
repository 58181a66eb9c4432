import type { KubeObject } from './helm.ts'

/** The parts of a pod spec the chart tests inspect. */
export interface PodSpecView {
  enableServiceLinks?: boolean
  automountServiceAccountToken?: boolean
  terminationGracePeriodSeconds?: number
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type?: string } }
  containers: Array<{
    name: string
    args?: string[]
    env?: Array<{ name: string; value?: string }>
    envFrom?: Array<{ configMapRef?: { name: string } }>
    ports?: { name?: string; containerPort: number }[]
    startupProbe?: { httpGet?: { path: string; port?: string | number } }
    livenessProbe?: { httpGet?: { path: string; port?: string | number } }
    readinessProbe?: { httpGet?: { path: string; port?: string | number } }
    lifecycle?: { preStop?: { sleep?: { seconds: number } } }
    resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> }
    securityContext?: {
      readOnlyRootFilesystem?: boolean
      allowPrivilegeEscalation?: boolean
      runAsNonRoot?: boolean
      capabilities?: { drop?: string[] }
      seccompProfile?: { type?: string }
    }
  }>
}

/** A workload with its pod template (Deployment, StatefulSet) or a bare Pod, with its pod spec. */
export interface PodOwner {
  object: KubeObject
  podSpec: PodSpecView
  podAnnotations: Record<string, string>
}

/** Every object that runs pods, with the pod spec it runs. */
export function podOwners(objects: readonly KubeObject[]): PodOwner[] {
  return objects.flatMap((object): PodOwner[] => {
    const spec = object.spec as { template?: { metadata?: { annotations?: Record<string, string> }; spec: PodSpecView } } & PodSpecView
    if (object.kind === 'Pod') return [{ object, podSpec: spec, podAnnotations: object.metadata.annotations ?? {} }]
    if (spec?.template?.spec) return [{ object, podSpec: spec.template.spec, podAnnotations: spec.template.metadata?.annotations ?? {} }]
    return []
  })
}
