import { expect } from 'vitest'
import { kubectl } from './kube.ts'
import type { PodFacts } from './release.ts'
import type { Summary } from './summary.ts'

/** What an ingress pod logged when its start-up warm-up finished (apps/ingress/src/warm-up.ts). */
interface WarmUpLog {
  readonly sent: number
  readonly statuses: Record<string, number>
  readonly ms: number
}

/**
 * Fails unless every ingress pod of `pods` logged a finished warm-up whose requests were all accepted (200 or
 * 202, answered by the warm-up's own responder: nothing stored), and adds each one's figures to the summary.
 */
export async function expectIngressPodsWarmedUp(namespace: string, pods: readonly PodFacts[], summary: Summary): Promise<void> {
  for (const pod of pods.filter((each) => each.component === 'ingress')) {
    const warmed = await ingressWarmUp(namespace, pod.name)
    expect(warmed, `${pod.name} logged its warm-up`).toBeDefined()
    const { sent, statuses, ms } = warmed!
    expect(sent).toBeGreaterThan(0)
    expect((statuses['200'] ?? 0) + (statuses['202'] ?? 0), JSON.stringify(statuses)).toBe(sent)
    summary.add('install', `${pod.name} warm-up`, `${sent} requests in ${ms} ms`)
  }
}

/** The pod's "accept path warmed up" line, parsed; undefined when it logged none (a cold start). */
async function ingressWarmUp(namespace: string, pod: string): Promise<WarmUpLog | undefined> {
  const line = (await kubectl(['-n', namespace, 'logs', pod])).split('\n').find((each) => each.includes('"msg":"accept path warmed up"'))
  return line === undefined ? undefined : (JSON.parse(line) as WarmUpLog)
}
