import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { chartDir, ciValueSets, ciValuesFile, helmSkipReason, renderChart, type KubeObject } from './helm.ts'
import { offlineProblem, typeOf, validatedByApiServer } from './offline-schemas.ts'

const skipReason = helmSkipReason()

describe.skipIf(skipReason)(`chart offline schemas${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it.each(ciValueSets)('chart offline schemas - every object rendered for %s is valid for its Kubernetes schema', async (set) => {
    const objects = await renderChart({ valuesFiles: [ciValuesFile(set)] })
    const problems = objects
      .filter((object) => !validatedByApiServer.has(typeOf(object)))
      .map((object) => ({ object: `${object.kind}/${object.metadata.name}`, problem: offlineProblem(object) }))
      .filter(({ problem }) => problem !== undefined)
    expect(problems).toEqual([])
  })

  it('chart offline schemas - the optional kinds are covered: Ingress, NetworkPolicy, ServiceMonitor, ScaledObject, HorizontalPodAutoscaler', async () => {
    const kinds = new Set<string>()
    for (const set of ciValueSets) for (const object of await renderChart({ valuesFiles: [ciValuesFile(set)] })) kinds.add(object.kind)
    expect([...kinds]).toEqual(
      expect.arrayContaining(['Ingress', 'NetworkPolicy', 'ServiceMonitor', 'ScaledObject', 'QueueScaler', 'StatefulSet', 'HorizontalPodAutoscaler']),
    )
  })

  it('chart offline schemas - the CRD in crds/ is a valid CustomResourceDefinition', async () => {
    const crd = parse(await readFile(join(chartDir, 'crds', 'queuescalers.sluice.dev.yaml'), 'utf8')) as KubeObject
    expect(offlineProblem(crd)).toBeUndefined()
  })

  it('chart offline schemas - a broken object is caught (the check is not vacuous)', async () => {
    const [deployment] = (await renderChart()).filter((object) => object.kind === 'Deployment')
    const broken = structuredClone(deployment) as KubeObject & {
      spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } } }
    }
    const port = broken.spec.template.spec.containers[0]?.ports[0]
    if (port) port.containerPort = 'eighty'
    expect(offlineProblem(broken)).toMatch(/containerPort/)
  })
})
