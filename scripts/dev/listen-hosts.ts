/** The apps' listen-address settings. */
const HOST_SETTINGS = ['HOST', 'WORKER_HOST', 'AUTOSCALER_HOST'] as const

/**
 * `make dev` listens on loopback only, unless the environment says otherwise: the apps' own default
 * (0.0.0.0) suits a pod, and on a laptop would put an API without keys on every network it joins.
 */
export function devListenHosts(env: NodeJS.ProcessEnv): Record<(typeof HOST_SETTINGS)[number], string> {
  return Object.fromEntries(HOST_SETTINGS.map((name) => [name, env[name] ?? '127.0.0.1'])) as Record<(typeof HOST_SETTINGS)[number], string>
}
