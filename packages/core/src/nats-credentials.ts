import type { TlsOptions } from '@nats-io/nats-core'

/**
 * How a client proves who it is to NATS (one of user/password, token or creds) and the TLS material it
 * uses, wherever it came from: the apps' NATS_* settings or a QueueScaler's Secrets.
 */
export interface NatsCredentials {
  readonly user?: string
  /** Always with {@link user}. */
  readonly password?: string
  readonly token?: string
  /** Contents of a `.creds` file (JWT + NKey seed). */
  readonly creds?: string
  /** Any TLS material turns TLS on; without it, the server's own `tls_required` (if any) decides. */
  readonly tls?: NatsTlsMaterial
}

/**
 * PEM material, inline (`ca`, `cert`, `key`) or as paths (`caFile`, `certFile`, `keyFile`). The client reads
 * a path again at every reconnect, so a renewed certificate is picked up without a restart. A CA verifies
 * the server; a certificate with its key also proves who we are to a server with `verify: true`.
 */
export type NatsTlsMaterial = Pick<TlsOptions, 'ca' | 'caFile' | 'cert' | 'certFile' | 'key' | 'keyFile'>

/** The pieces of NATS credentials a source holds, each set (to its value, path or anything) when present. */
export interface NatsCredentialPieces {
  readonly user?: unknown
  readonly password?: unknown
  readonly token?: unknown
  readonly creds?: unknown
  readonly clientCert?: unknown
  readonly clientKey?: unknown
}

/** What a source calls each piece (a variable, a Secret's key), so a problem names what to fix. */
export type NatsCredentialNames = { readonly [K in keyof NatsCredentialPieces]-?: string }

/**
 * The rules every source of NATS credentials follows: one authentication method, a user with its password,
 * a client certificate with its key (half a pair would connect without the certificate, and the server's
 * refusal would not say why). Returns one line per broken rule, naming the pieces; none when usable.
 */
export function natsCredentialProblems(pieces: NatsCredentialPieces, names: NatsCredentialNames): string[] {
  const problems: string[] = []
  const has = (piece: keyof NatsCredentialPieces): boolean => pieces[piece] !== undefined
  const methods = [has('user') || has('password'), has('token'), has('creds')].filter(Boolean).length
  if (methods > 1) {
    problems.push(`more than one of ${names.user}/${names.password}, ${names.token} and ${names.creds}: they are alternatives, keep one`)
  }
  const pairs = [
    [names.user, has('user'), names.password, has('password'), 'the two must be set together'],
    [names.clientCert, has('clientCert'), names.clientKey, has('clientKey'), 'a client certificate needs both'],
  ] as const
  for (const [first, hasFirst, second, hasSecond, why] of pairs) {
    if (hasFirst !== hasSecond) problems.push(hasFirst ? `${first} without ${second}: ${why}` : `${second} without ${first}: ${why}`)
  }
  return problems
}
