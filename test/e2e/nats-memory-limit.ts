import { expect } from 'vitest'
import { curl, getJson } from './kube.ts'
import type { Summary } from './summary.ts'

interface NatsPodJson {
  spec: { containers: { name: string; env?: { name: string; value?: string }[]; resources?: { limits?: { memory?: string } } }[] }
  status: { podIP: string }
}

/**
 * Fails unless the release's first NATS server runs with the GOMEMLIMIT the chart derives from its memory
 * limit (templates/_nats-memory.tpl), as the server itself reports it (`/varz`, on the monitoring port):
 * the value must reach the Go runtime, not only the pod spec. cluster-values.yaml keeps the chart's 1Gi limit.
 */
export async function expectNatsMemoryLimit(namespace: string, release: string, summary: Summary): Promise<void> {
  const pod = await getJson<NatsPodJson>(['-n', namespace, 'pod', `${release}-nats-0`])
  const nats = pod.spec.containers.find((container) => container.name === 'nats')
  expect(nats?.resources?.limits?.memory).toBe('1Gi')
  const declared = nats?.env?.find((variable) => variable.name === 'GOMEMLIMIT')?.value
  expect(declared).toBe(String(Math.floor(0.9 * 1024 ** 3)))
  const varz = await curl([`http://${pod.status.podIP}:8222/varz`])
  expect(varz.status).toBe(200)
  expect((JSON.parse(varz.body) as { gomemlimit?: number }).gomemlimit).toBe(Number(declared))
  summary.add('install', 'nats-server GOMEMLIMIT (its /varz)', `${declared} bytes`)
}
