/**
 * `urls` (one URL or a comma-separated list, as NATS_URL takes them) with any credentials in them
 * (`user:password@`, `token@`) replaced by `[redacted]@`, for messages and log lines.
 */
export function redactUrlCredentials(urls: string): string {
  return urls.replace(/(\/\/)[^/@,\s]+@/g, '$1[redacted]@')
}
