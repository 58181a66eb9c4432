import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import { BacklogReadError, BacklogReadFailure } from '../backlog/backlog-source.ts'
import type { NatsCredentials } from './nats-connections.ts'

/** Keys read from a QueueScaler's credentials Secret. */
export const CredentialKey = { User: 'user', Password: 'password', Token: 'token', Creds: 'creds', CaCert: 'ca.crt' } as const

/**
 * Reads the NATS credentials Secret named by a QueueScaler. Only `get` on that one Secret is needed (the
 * chart's Role names it), never `list`: the autoscaler must not be able to read the namespace's Secrets.
 */
export class NatsCredentialsReader {
  readonly #core: CoreV1Api

  constructor(kubeConfig: KubeConfig) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api)
  }

  /** Decoded credentials; a missing Secret or an unusable set of keys is a `CredentialsUnavailable` read error. */
  async read(namespace: string, name: string): Promise<NatsCredentials> {
    let data: Record<string, string>
    try {
      data = (await this.#core.readNamespacedSecret({ name, namespace })).data ?? {}
    } catch (error) {
      const code = (error as { code?: number }).code
      throw new BacklogReadError(BacklogReadFailure.CredentialsUnavailable, `cannot read Secret ${namespace}/${name}${code ? ` (HTTP ${code})` : ''}`, { cause: error })
    }
    const value = (key: string): string | undefined => (data[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8'))
    const credentials: NatsCredentials = {
      ...(value(CredentialKey.User) !== undefined ? { user: value(CredentialKey.User), password: value(CredentialKey.Password) ?? '' } : {}),
      ...(value(CredentialKey.Token) !== undefined ? { token: value(CredentialKey.Token) } : {}),
      ...(value(CredentialKey.Creds) !== undefined ? { creds: value(CredentialKey.Creds) } : {}),
      ...(value(CredentialKey.CaCert) !== undefined ? { caCert: value(CredentialKey.CaCert) } : {}),
    }
    const methods = [credentials.user, credentials.token, credentials.creds].filter((method) => method !== undefined).length
    if (methods > 1) {
      throw new BacklogReadError(BacklogReadFailure.CredentialsUnavailable, `Secret ${namespace}/${name} holds more than one of user, token and creds: keep one`)
    }
    return credentials
  }
}
