import { request } from 'node:https'
import type { KubeConfig } from '@kubernetes/client-node'
import type { KubeObject } from './helm.ts'

/** An API server answer: status code and parsed JSON body. */
export interface KubeAnswer {
  status: number
  body: { message?: string; [field: string]: unknown }
}

/**
 * One raw request to the API server with `kubeConfig`'s credentials (impersonation headers included).
 * Raw on purpose: the typed client serializes through its models, which would drop unknown fields before the
 * server's strict field validation could see them.
 */
export async function kubeRequest(kubeConfig: KubeConfig, method: string, path: string, body?: string, contentType = 'application/json'): Promise<KubeAnswer> {
  const server = kubeConfig.getCurrentCluster()?.server
  if (!server) throw new Error('the KubeConfig has no current cluster')
  const options: { headers: Record<string, string>; [option: string]: unknown } = { method, headers: { accept: 'application/json' } }
  await kubeConfig.applyToHTTPSOptions(options)
  if (body !== undefined) options.headers['content-type'] = contentType
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server), options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: KubeAnswer['body'] = {}
        try {
          parsed = text ? JSON.parse(text) : {}
        } catch {
          parsed = { message: text }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
    })
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

// Resource names (plural) of the kinds the chart renders, and whether they live in a namespace.
const resources: Record<string, { plural: string; namespaced: boolean }> = {
  ConfigMap: { plural: 'configmaps', namespaced: true },
  Secret: { plural: 'secrets', namespaced: true },
  Service: { plural: 'services', namespaced: true },
  ServiceAccount: { plural: 'serviceaccounts', namespaced: true },
  Pod: { plural: 'pods', namespaced: true },
  Deployment: { plural: 'deployments', namespaced: true },
  StatefulSet: { plural: 'statefulsets', namespaced: true },
  HorizontalPodAutoscaler: { plural: 'horizontalpodautoscalers', namespaced: true },
  PodDisruptionBudget: { plural: 'poddisruptionbudgets', namespaced: true },
  Role: { plural: 'roles', namespaced: true },
  RoleBinding: { plural: 'rolebindings', namespaced: true },
  Ingress: { plural: 'ingresses', namespaced: true },
  NetworkPolicy: { plural: 'networkpolicies', namespaced: true },
  QueueScaler: { plural: 'queuescalers', namespaced: true },
  Namespace: { plural: 'namespaces', namespaced: false },
  CustomResourceDefinition: { plural: 'customresourcedefinitions', namespaced: false },
}

/** The REST path of `object` (its collection when `collection` is true). */
export function objectPath(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>, collection = false): string {
  const resource = resources[object.kind]
  if (!resource) throw new Error(`no REST mapping for ${object.kind}: add it to test/chart/kube-request.ts`)
  const base = object.apiVersion === 'v1' ? '/api/v1' : `/apis/${object.apiVersion}`
  const namespace = resource.namespaced ? `/namespaces/${object.metadata.namespace ?? 'default'}` : ''
  return `${base}${namespace}/${resource.plural}${collection ? '' : `/${object.metadata.name}`}`
}

/** Options of {@link serverSideApply}. */
export interface ApplyOptions {
  /** `All` validates and admits without persisting. */
  dryRun?: 'All'
}

/**
 * Server-side apply with strict field validation: an unknown or duplicated field is an error, as with
 * `kubectl apply --server-side --validate=strict`.
 */
export function serverSideApply(kubeConfig: KubeConfig, object: KubeObject, options: ApplyOptions = {}): Promise<KubeAnswer> {
  const query = new URLSearchParams({ fieldManager: 'sluice-chart-test', force: 'true', fieldValidation: 'Strict' })
  if (options.dryRun) query.set('dryRun', options.dryRun)
  return kubeRequest(kubeConfig, 'PATCH', `${objectPath(object)}?${query}`, JSON.stringify(object), 'application/apply-patch+yaml')
}
