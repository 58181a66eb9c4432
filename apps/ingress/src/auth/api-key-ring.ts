import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ConfigError } from '@sluice/core'

/** What a key may do: submit jobs, read jobs and the queue, manage dead letters. */
export type Scope = 'submit' | 'read' | 'admin'

const SCOPES: readonly Scope[] = ['submit', 'read', 'admin']
const DEFAULT_SCOPES: readonly Scope[] = ['submit', 'read']

/** A known key: its SHA-256 digest (the key itself is never kept), a short label for logs and limits, its scopes. */
export interface KeyEntry {
  readonly digest: Buffer
  /** First 8 hex characters of the digest: enough to tell keys apart in logs, useless to an attacker. */
  readonly label: string
  readonly scopes: ReadonlySet<Scope>
}

/**
 * The API keys from INGRESS_API_KEYS_FILE (`<key>` or `<key> <scope,...>` per line; `#` comments).
 * Keys are compared by digest in constant time, and every stored key is compared on every check so the
 * time taken says nothing about which key came close.
 *
 * Fail closed: a file that cannot be read or is invalid on a reload leaves no key valid (a revocation with
 * a typo must not keep the revoked key working), and {@link problem} says why until a reload succeeds.
 */
export class ApiKeyRing {
  readonly #path: string
  #entries: readonly KeyEntry[]
  #loadError: Error | undefined

  constructor(path: string) {
    this.#path = path
    this.#entries = parseKeys(readFileSync(path, 'utf8'))
  }

  /** Keys loaded now. */
  get size(): number {
    return this.#entries.length
  }

  /** Why no request can authenticate now (the file failed its last read, or holds no key), or undefined. */
  get problem(): string | undefined {
    if (this.#loadError) return 'the API keys file could not be read or is invalid; no key is accepted'
    if (this.#entries.length === 0) return 'the API keys file holds no key'
    return undefined
  }

  /** Re-reads the file (a rotated Secret); when it cannot be read or is invalid, no key is valid any more. */
  reload(): Error | undefined {
    try {
      this.#entries = parseKeys(readFileSync(this.#path, 'utf8'))
      this.#loadError = undefined
      return undefined
    } catch (error) {
      this.#entries = []
      this.#loadError = error as Error
      return this.#loadError
    }
  }

  /** The entry for `presented`, or undefined. */
  find(presented: string): KeyEntry | undefined {
    const digest = createHash('sha256').update(presented).digest()
    let found: KeyEntry | undefined
    for (const entry of this.#entries) if (timingSafeEqual(entry.digest, digest) && !found) found = entry
    return found
  }
}

/** Shortest key accepted. */
export const KEY_MIN_LENGTH = 24
/** Least strength accepted: the key's length × log2(its distinct characters), a generous estimate of its bits. */
export const KEY_MIN_BITS = 96

/** Why `key` is too weak to guard the API, or undefined. Never includes the key. */
export function keyWeakness(key: string): string | undefined {
  if (key.length < KEY_MIN_LENGTH) return `${key.length} characters, at least ${KEY_MIN_LENGTH} needed`
  const bits = key.length * Math.log2(new Set(key).size)
  if (bits < KEY_MIN_BITS) return `too few different characters: about ${Math.floor(bits)} bits, at least ${KEY_MIN_BITS} needed`
  return undefined
}

/** Parses a keys file; throws a `ConfigError` naming the line of a bad entry (never its key). */
export function parseKeys(text: string): KeyEntry[] {
  const entries: KeyEntry[] = []
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const [key, scopeList, ...rest] = line.split(/\s+/)
    if (!key || rest.length > 0) throw new ConfigError([`INGRESS_API_KEYS_FILE line ${index + 1}: expected "<key> [scope,...]"`])
    const weakness = keyWeakness(key)
    if (weakness)
      throw new ConfigError([`INGRESS_API_KEYS_FILE line ${index + 1}: the key is too weak (${weakness}); make one with \`openssl rand -base64 32\``])
    const scopes = scopeList ? scopeList.split(',') : DEFAULT_SCOPES
    for (const scope of scopes) {
      // The word is not echoed: a line with two keys would put the second in the log.
      if (!SCOPES.includes(scope as Scope))
        throw new ConfigError([`INGRESS_API_KEYS_FILE line ${index + 1}: unknown scope (use ${SCOPES.join(', ')}, comma-separated)`])
    }
    const digest = createHash('sha256').update(key).digest()
    entries.push({ digest, label: digest.toString('hex').slice(0, 8), scopes: new Set(scopes as Scope[]) })
  })
  return entries
}
