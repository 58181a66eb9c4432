import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import { BacklogReadError, BacklogReadFailure } from '../backlog/backlog-source.ts'
import type { NatsCredentials } from './nats-connections.ts'

/**
 * Keys read from a QueueScaler's Secrets. The TLS ones are the kubernetes.io/tls names, so a Secret that
 * cert-manager writes can be named as it is.
 */
export const CredentialKey = {
  User: 'user',
  Password: 'password',
  Token: 'token',
  Creds: 'creds',
  CaCert: 'ca.crt',
  ClientCert: 'tls.crt',
  ClientKey: 'tls.key',
} as const

/** The Secrets a QueueScaler's `spec.nats` names, by name. */
export interface NatsSecretNames {
  /** `credentialsSecretRef`: user/password, token or creds, and TLS keys unless {@link tls} is set. */
  readonly credentials?: string
  /** `tlsSecretRef`: when set, `ca.crt`, `tls.crt` and `tls.key` are read from it alone. */
  readonly tls?: string
}

type SecretData = Readonly<Record<string, string | undefined>>

/**
 * Reads the NATS credentials Secrets named by a QueueScaler. Only `get` on those Secrets is needed (the
 * chart's Role names them), never `list`: the autoscaler must not be able to read the namespace's Secrets.
 */
export class NatsCredentialsReader {
  readonly #core: CoreV1Api

  constructor(kubeConfig: KubeConfig) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api)
  }

  /**
   * Decoded credentials; none when no Secret is named. A missing Secret or an unusable set of keys is a
   * `CredentialsUnavailable` read error, so the QueueScaler's status says which Secret and key to fix.
   */
  async read(namespace: string, names: NatsSecretNames): Promise<NatsCredentials> {
    const auth = names.credentials === undefined ? {} : await this.#readSecret(namespace, names.credentials)
    const tlsSecret = names.tls ?? names.credentials
    const tls = names.tls === undefined ? auth : await this.#readSecret(namespace, names.tls)
    const credentials: NatsCredentials = {
      ...(auth[CredentialKey.User] !== undefined ? { user: auth[CredentialKey.User], password: auth[CredentialKey.Password] ?? '' } : {}),
      ...(auth[CredentialKey.Token] !== undefined ? { token: auth[CredentialKey.Token] } : {}),
      ...(auth[CredentialKey.Creds] !== undefined ? { creds: auth[CredentialKey.Creds] } : {}),
      ...(tls[CredentialKey.CaCert] !== undefined ? { caCert: tls[CredentialKey.CaCert] } : {}),
      ...(tls[CredentialKey.ClientCert] !== undefined ? { clientCert: tls[CredentialKey.ClientCert] } : {}),
      ...(tls[CredentialKey.ClientKey] !== undefined ? { clientKey: tls[CredentialKey.ClientKey] } : {}),
    }
    const methods = [credentials.user, credentials.token, credentials.creds].filter((method) => method !== undefined).length
    if (methods > 1) {
      throw new BacklogReadError(BacklogReadFailure.CredentialsUnavailable, `Secret ${namespace}/${names.credentials} holds more than one of user, token and creds: keep one`)
    }
    // Half a key pair would connect without the certificate, and the server's refusal would not say why.
    if ((credentials.clientCert === undefined) !== (credentials.clientKey === undefined)) {
      const [present, missing] = credentials.clientCert === undefined ? [CredentialKey.ClientKey, CredentialKey.ClientCert] : [CredentialKey.ClientCert, CredentialKey.ClientKey]
      throw new BacklogReadError(BacklogReadFailure.CredentialsUnavailable,
        `Secret ${namespace}/${tlsSecret} holds ${present} without ${missing}: a client certificate needs both`)
    }
    return credentials
  }

  async #readSecret(namespace: string, name: string): Promise<SecretData> {
    let data: Record<string, string>
    try {
      data = (await this.#core.readNamespacedSecret({ name, namespace })).data ?? {}
    } catch (error) {
      const code = (error as { code?: number }).code
      throw new BacklogReadError(BacklogReadFailure.CredentialsUnavailable, `cannot read Secret ${namespace}/${name}${code ? ` (HTTP ${code})` : ''}`, { cause: error })
    }
    return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]))
  }
}
