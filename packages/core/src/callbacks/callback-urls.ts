import { ConfigError } from '../errors.ts'

/** The longest `callbackUrl` a job may carry, in characters (it rides in a header of the job message). */
export const CALLBACK_URL_MAX_LENGTH = 2048

// What may follow an allowed prefix: the characters a URL parser keeps as they are in a path, query and
// fragment (no space, quote, angle bracket, backslash or non-ASCII), so the URL called is the URL given,
// apart from dot segments, and it is never longer than it.
const URL_TAIL = '[A-Za-z0-9._~!$&()*+,;=:@/?%#-]*'

/**
 * Where job callbacks may go (JOB_CALLBACK_ALLOWED_URLS): a list of http(s) URL prefixes, each written as a
 * URL parser writes it (`https://hooks.example.com` is `https://hooks.example.com/`, so it never matches
 * `https://hooks.example.com.evil.test/`). A callback URL is allowed when it starts with one of them, and
 * still does once parsed (dot segments cannot climb out of the prefix). Empty: callbacks are off. The
 * URL is user input pointing the service at a host of the user's choice (SSRF), so only the hosts the
 * operator names are reachable; the ingress checks it on submission and the sender again before each call,
 * for jobs published around the ingress.
 */
export class CallbackUrls {
  /** The allowed prefixes, normalised; empty when callbacks are off. */
  readonly prefixes: readonly string[]

  /** @param setting JOB_CALLBACK_ALLOWED_URLS: comma-separated http(s) URLs (its pattern checked the shape) */
  constructor(setting: string) {
    this.prefixes = setting === '' ? [] : setting.split(',').map(parsePrefix)
  }

  /** Whether any callback is allowed. */
  get enabled(): boolean {
    return this.prefixes.length > 0
  }

  /**
   * The regular expression a `callbackUrl` must match (the OpenAPI document's pattern): an allowed prefix,
   * then only characters a URL parser leaves as they are.
   */
  get pattern(): string {
    return `^(?:${this.prefixes.map(escapeRegExp).join('|')})${URL_TAIL}$`
  }

  /** The URL to call (as given, checked) or why it may not be called (a predicate: `callbackUrl <refused>`). */
  check(raw: string): { readonly url: string; readonly refused?: undefined } | { readonly refused: string; readonly url?: undefined } {
    if (!this.enabled) return { refused: 'is refused: job callbacks are off on this server (JOB_CALLBACK_ALLOWED_URLS is empty)' }
    if (raw.length > CALLBACK_URL_MAX_LENGTH) return { refused: `is longer than ${CALLBACK_URL_MAX_LENGTH} characters` }
    if (!new RegExp(this.pattern).test(raw)) return { refused: 'does not start with a URL prefix this server allows (JOB_CALLBACK_ALLOWED_URLS)' }
    // Parsed again: `/sluice/../admin` starts with `/sluice/` but goes to `/admin`.
    const href = URL.parse(raw)?.href
    if (href === undefined || !this.prefixes.some((prefix) => href.startsWith(prefix))) {
      return { refused: 'leaves the allowed URL prefix it starts with (dot segments)' }
    }
    return { url: raw }
  }
}

/** What a callback URL may be shown as in logs and errors: no credentials, query or fragment (they may hold secrets). */
export function shownUrl(url: string): string {
  const parsed = URL.parse(url)
  return parsed ? `${parsed.origin}${parsed.pathname}` : '(not a URL)'
}

function parsePrefix(entry: string): string {
  const url = URL.parse(entry)
  const name = 'JOB_CALLBACK_ALLOWED_URLS'
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new ConfigError([`${name}: "${entry}" is not an http:// or https:// URL`])
  if (url.username !== '' || url.password !== '') throw new ConfigError([`${name}: an allowed URL carries no credentials`])
  if (url.search !== '' || url.hash !== '' || entry.endsWith('?') || entry.endsWith('#')) {
    throw new ConfigError([`${name}: "${url.origin}${url.pathname}..." has a query or fragment; list a URL prefix up to its path`])
  }
  return url.href
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')
}
