/**
 * The servers (`host:port`, lower case, NATS's default port 4222 when none is given) of a URL list as
 * NATS_URL and a QueueScaler's `spec.nats.url` take them; credentials in a URL are not part of it.
 */
export function natsServers(urls: string): string[] {
  return urls
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '')
    .map((url) => {
      const withScheme = url.includes('://') ? url : `nats://${url}`
      try {
        const parsed = new URL(withScheme)
        return `${parsed.hostname.toLowerCase()}:${parsed.port || '4222'}`
      } catch {
        return withScheme
      }
    })
}

/**
 * Whether a QueueScaler's `url` may receive the credentials its Secrets hold: every server it names must be
 * one of `allowed` (the autoscaler's own NATS_URL), so whoever can write a QueueScaler cannot have the
 * autoscaler send the chart's credentials to a server of their own. `allowed` undefined: any.
 */
export function mayReceiveCredentials(url: string, allowed: string | undefined): boolean {
  if (allowed === undefined) return true
  const permitted = new Set(natsServers(allowed))
  const servers = natsServers(url)
  return servers.length > 0 && servers.every((server) => permitted.has(server))
}
