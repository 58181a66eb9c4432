import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Pod } from 'kubernetes-models/v1/Pod'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role'
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding'
import type { KubeObject } from './helm.ts'

interface Validatable {
  validate(): void
}
type ModelClass = new (data: never) => Validatable

// The kinds the chart renders, each with its published schema (kubernetes-models: generated from the
// Kubernetes OpenAPI; the KEDA and prometheus-operator packages: from those projects' CRDs).
const models: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Pod': Pod,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
}

/** Kinds whose schema is not published as a package: our own CRD, validated by the real API server instead. */
export const validatedByApiServer = new Set(['sluice.dev/v1alpha1/QueueScaler'])

/** `apiVersion/kind`, e.g. `apps/v1/Deployment`. */
export function typeOf(object: KubeObject): string {
  return `${object.apiVersion}/${object.kind}`
}

/**
 * Validates `object` against its kind's schema offline (types, required fields, enums, formats). Returns the
 * problem, or undefined when valid. Unknown fields are not caught here: the API server's strict field
 * validation catches those (see chart-control-plane.test.ts). Throws for a kind with no schema.
 */
export function offlineProblem(object: KubeObject): string | undefined {
  const model = models[typeOf(object)]
  if (!model) throw new Error(`no offline schema for ${typeOf(object)}: add its model to test/chart/offline-schemas.ts`)
  try {
    new model(object as never).validate()
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}
