import { CoreV1Api, KubeConfig, type Cluster, type User } from '@kubernetes/client-node'

/** A ServiceAccount by namespace and name. */
export interface ServiceAccountRef {
  namespace: string
  name: string
}

/** Options of {@link kubeConfigWithServiceAccountToken}. */
export interface ServiceAccountTokenOptions {
  /**
   * Lifetime the token asks for, in seconds (the API server's minimum is 600).
   * @default 3600
   */
  expirationSeconds?: number
}

/** The user name the API server gives a ServiceAccount: `system:serviceaccount:<namespace>:<name>`. */
export function serviceAccountUsername(sa: ServiceAccountRef): string {
  return `system:serviceaccount:${sa.namespace}:${sa.name}`
}

function currentClusterOf(kubeConfig: KubeConfig): Cluster {
  const cluster = kubeConfig.getCurrentCluster()
  if (!cluster) throw new Error('the KubeConfig has no current cluster')
  return cluster
}

function singleUserConfig(cluster: Cluster, user: User, namespace: string): KubeConfig {
  const kubeConfig = new KubeConfig()
  const context = { name: user.name, cluster: cluster.name, user: user.name, namespace }
  kubeConfig.loadFromOptions({ clusters: [cluster], users: [user], contexts: [context], currentContext: context.name })
  return kubeConfig
}

/**
 * A KubeConfig whose requests the API server authorizes as `sa`: it authenticates with `admin`'s
 * credentials and impersonates `system:serviceaccount:<ns>:<name>` (kubeconfig `as`). For a ServiceAccount
 * user the server adds the groups `system:serviceaccounts` and `system:serviceaccounts:<ns>` itself, so RBAC
 * sees exactly what the pod would. `admin` must be allowed to impersonate (system:masters is). The
 * ServiceAccount need not exist: RBAC only looks at the name.
 */
export function kubeConfigAs(admin: KubeConfig, sa: ServiceAccountRef): KubeConfig {
  const adminUser = admin.getCurrentUser()
  if (!adminUser) throw new Error('the admin KubeConfig has no current user')
  const user: User = { ...adminUser, name: `as-${sa.namespace}-${sa.name}`, impersonateUser: serviceAccountUsername(sa) }
  return singleUserConfig(currentClusterOf(admin), user, sa.namespace)
}

/**
 * A KubeConfig that authenticates as `sa` with a bound token from the TokenRequest API, the way a pod's
 * projected token does: it proves the ServiceAccount exists and that token authentication works, not just
 * RBAC. The ServiceAccount must exist; `admin` needs `create` on `serviceaccounts/token`.
 */
export async function kubeConfigWithServiceAccountToken(
  admin: KubeConfig,
  sa: ServiceAccountRef,
  options: ServiceAccountTokenOptions = {},
): Promise<KubeConfig> {
  const expirationSeconds = options.expirationSeconds ?? 3600
  const core = admin.makeApiClient(CoreV1Api)
  const request = await core.createNamespacedServiceAccountToken({
    name: sa.name,
    namespace: sa.namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  })
  const token = request.status?.token
  if (!token) throw new Error(`TokenRequest for ${serviceAccountUsername(sa)} returned no token`)
  const user: User = { name: `token-${sa.namespace}-${sa.name}`, token }
  return singleUserConfig(currentClusterOf(admin), user, sa.namespace)
}
