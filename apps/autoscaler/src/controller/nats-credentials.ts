import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import { natsCredentialProblems, type NatsCredentialPieces, type NatsCredentials } from '@sluice/core'
import { BacklogReadError, BacklogReadFailure } from '../backlog/backlog-source.ts'

/**
 * Keys read from a QueueScaler's Secrets. The TLS ones are the kubernetes.io/tls names, so a Secret that
 * cert-manager writes can be named as it is.
 */
export const CredentialKey = {
  user: 'user',
  password: 'password',
  token: 'token',
  creds: 'creds',
  ca: 'ca.crt',
  clientCert: 'tls.crt',
  clientKey: 'tls.key',
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
   * Decoded credentials; none when no Secret is named. A missing Secret or a set of keys that breaks core's
   * credential rules is a `CredentialsUnavailable` read error, so the QueueScaler's status says which
   * Secret and key to fix.
   */
  async read(namespace: string, names: NatsSecretNames): Promise<NatsCredentials> {
    const auth = names.credentials === undefined ? {} : await this.#readSecret(namespace, names.credentials)
    const tls = names.tls === undefined ? auth : await this.#readSecret(namespace, names.tls)
    const user = auth[CredentialKey.user]
    const password = auth[CredentialKey.password]
    const token = auth[CredentialKey.token]
    const creds = auth[CredentialKey.creds]
    const ca = tls[CredentialKey.ca]
    const cert = tls[CredentialKey.clientCert]
    const key = tls[CredentialKey.clientKey]
    assertUsable(namespace, names.credentials, { user, password, token, creds })
    assertUsable(namespace, names.tls ?? names.credentials, { clientCert: cert, clientKey: key })
    return {
      ...(user !== undefined ? { user, password } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(creds !== undefined ? { creds } : {}),
      ...(ca !== undefined || cert !== undefined ? { tls: { ca, cert, key } } : {}),
    }
  }

  async #readSecret(namespace: string, name: string): Promise<SecretData> {
    let data: Record<string, string>
    try {
      data = (await this.#core.readNamespacedSecret({ name, namespace })).data ?? {}
    } catch (error) {
      const code = (error as { code?: number }).code
      throw new BacklogReadError(BacklogReadFailure.CredentialsUnavailable, `cannot read Secret ${namespace}/${name}${code ? ` (HTTP ${code})` : ''}`, {
        cause: error,
      })
    }
    return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]))
  }
}

// Each Secret is checked for the pieces read from it, so the problem names the Secret to fix.
function assertUsable(namespace: string, secret: string | undefined, pieces: NatsCredentialPieces): void {
  const [problem] = natsCredentialProblems(pieces, CredentialKey)
  if (problem !== undefined) {
    throw new BacklogReadError(BacklogReadFailure.CredentialsUnavailable, `Secret ${namespace}/${secret} holds ${problem}`)
  }
}
