import type { KubernetesObject } from '@kubernetes/client-node'
import { validateScalingPolicy, type ScalingPolicy } from '../decision/scaling-policy.ts'

/** API group of the QueueScaler CRD (charts/sluice/crds/queuescalers.sluice.dev.yaml). */
export const QUEUE_SCALER_GROUP = 'sluice.dev'
/** Served and stored version. */
export const QUEUE_SCALER_VERSION = 'v1alpha1'
/** Resource name in URLs. */
export const QUEUE_SCALER_PLURAL = 'queuescalers'
/** Kind. */
export const QUEUE_SCALER_KIND = 'QueueScaler'
/** Name every write carries, so `managedFields` says who set the replicas. */
export const FIELD_MANAGER = 'sluice-autoscaler'

/** Annotations that hand the replicas back to people; read on the QueueScaler and on its target. */
export const Annotation = {
  /** `"true"`: leave the replicas alone, so a `kubectl scale` by hand stands. */
  Paused: 'sluice.dev/paused',
  /** `"<n>"`: set n replicas and hold them, whatever the backlog. */
  PausedReplicas: 'sluice.dev/paused-replicas',
} as const

/** `spec` of a QueueScaler, as stored (the CRD's defaults applied). */
export interface QueueScalerSpec {
  stream: string
  consumer: string
  nats: { url: string; credentialsSecretRef?: { name: string }; tlsSecretRef?: { name: string } }
  scaleTargetRef: { apiVersion?: string; kind?: string; name: string }
  minReplicas?: number
  maxReplicas: number
  targetBacklogPerReplica: number
  activationBacklog?: number
  pollIntervalSeconds?: number
  scaleDownStabilizationSeconds?: number
  maxScaleDownStep?: number
}

/** A metav1.Condition. */
export interface Condition {
  type: ConditionType
  status: 'True' | 'False' | 'Unknown'
  reason: string
  message: string
  lastTransitionTime: string
  observedGeneration?: number
}

/** The condition types a QueueScaler reports. */
export type ConditionType = 'Ready' | 'Active' | 'ScalingLimited' | 'Paused'

/** `status` of a QueueScaler. Field names follow Kubernetes conventions (camelCase). */
export interface QueueScalerStatus {
  observedGeneration?: number
  backlog?: number
  pending?: number
  inFlight?: number
  desiredReplicas?: number
  currentReplicas?: number
  lastReadTime?: string
  lastScaleTime?: string
  conditions?: Condition[]
}

/** A QueueScaler object. */
export interface QueueScaler extends KubernetesObject {
  spec: QueueScalerSpec
  status?: QueueScalerStatus
}

/** CRD defaults, repeated for objects that reach us without them (for example from an older CRD). */
export const SPEC_DEFAULTS = { pollIntervalSeconds: 2, scaleDownStabilizationSeconds: 60, minReplicas: 0, activationBacklog: 0 } as const

/** The decision engine's policy for a spec; throws `InvalidScalingPolicyError` naming the bad field. */
export function scalingPolicyOf(spec: QueueScalerSpec): ScalingPolicy {
  return validateScalingPolicy({
    minReplicas: spec.minReplicas ?? SPEC_DEFAULTS.minReplicas,
    maxReplicas: spec.maxReplicas,
    targetBacklogPerReplica: spec.targetBacklogPerReplica,
    activationBacklog: spec.activationBacklog ?? SPEC_DEFAULTS.activationBacklog,
    scaleDownStabilizationMs: (spec.scaleDownStabilizationSeconds ?? SPEC_DEFAULTS.scaleDownStabilizationSeconds) * 1000,
    maxScaleDownStep: spec.maxScaleDownStep,
  })
}

/** Poll interval of a spec, in milliseconds. */
export function pollIntervalMsOf(spec: QueueScalerSpec): number {
  return Math.max(1, spec.pollIntervalSeconds ?? SPEC_DEFAULTS.pollIntervalSeconds) * 1000
}

/** `namespace/name`, the work queue's key. */
export function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`
}

/** Splits a key made by {@link keyOf}. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/')
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) }
}
