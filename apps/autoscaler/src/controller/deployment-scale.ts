import { AppsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import { FIELD_MANAGER } from './queue-scaler.ts'

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

/** What reconcile needs to know about the target Deployment. */
export interface TargetState {
  /** `spec.replicas` (the API server defaults it to 1). */
  readonly replicas: number
  /** Pause annotations may sit on the Deployment. */
  readonly annotations: Record<string, string> | undefined
}

/**
 * Reads a Deployment and writes its replicas through the `scale` subresource only, with a field manager, so
 * the autoscaler can never change anything else about it (and RBAC does not let it: see the Role rules).
 */
export class DeploymentScale {
  readonly #apps: AppsV1Api

  constructor(kubeConfig: KubeConfig) {
    this.#apps = kubeConfig.makeApiClient(AppsV1Api)
  }

  /** The Deployment's replicas and annotations; rejects with the API error (404 when it does not exist). */
  async read(namespace: string, name: string): Promise<TargetState> {
    const deployment = await this.#apps.readNamespacedDeployment({ name, namespace })
    return { replicas: deployment.spec?.replicas ?? 1, annotations: deployment.metadata?.annotations }
  }

  /** Sets `spec.replicas` in one merge patch of the scale subresource; resolves with the stored value. */
  async scale(namespace: string, name: string, replicas: number): Promise<number> {
    const scale = await this.#apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER }, mergePatch)
    return scale.spec?.replicas ?? replicas
  }
}
