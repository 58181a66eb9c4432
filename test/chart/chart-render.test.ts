import { exitBoundMs, exitBounds, loadAutoscalerConfig, loadIngressConfig, loadWorkerConfig } from '@sluice/core'
import { describe, expect, it } from 'vitest'
import { ciValueSets, ciValuesFile, chartDir, findObject, helm, helmSkipReason, kubeVersion, renderChart, type KubeObject } from './helm.ts'
import { podOwners } from './pod-specs.ts'

const skipReason = helmSkipReason()

// Renders every ci value set once; the tests below read the results.
let renderedSets: Promise<Map<string, KubeObject[]>> | undefined
function renderAll(): Promise<Map<string, KubeObject[]>> {
  renderedSets ??= (async () => {
    const rendered = new Map<string, KubeObject[]>()
    for (const set of ciValueSets) rendered.set(set, await renderChart({ valuesFiles: [ciValuesFile(set)] }))
    return rendered
  })()
  return renderedSets
}

describe.skipIf(skipReason)(`chart render${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it("chart render - the ci value sets are the four the issue names, the test cluster's (make cluster-up) and your own jobs'", () => {
    expect(ciValueSets).toEqual([
      'cluster-values.yaml',
      'default-values.yaml',
      'external-nats-values.yaml',
      'keda-values.yaml',
      'nats-cluster-values.yaml',
      'your-own-jobs-values.yaml',
    ])
  })

  it.each(ciValueSets)('chart render - helm lint --strict passes for %s', async (set) => {
    const result = await helm(['lint', chartDir, '--strict', '--kube-version', kubeVersion, '--values', `${chartDir}/ci/${set}`])
    expect(result.stderr + result.stdout, result.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/)
    expect(result.ok).toBe(true)
  })

  it('chart render - every pod is non-root, read-only, capability-free, seccomp RuntimeDefault, without service links', async () => {
    for (const [set, objects] of await renderAll()) {
      for (const { object, podSpec } of podOwners(objects)) {
        const where = `${set}: ${object.kind}/${object.metadata.name}`
        // Service-link variables (WORKER_PORT=tcp://...) would collide with the apps' settings.
        expect(podSpec.enableServiceLinks, where).toBe(false)
        expect(podSpec.securityContext?.runAsNonRoot, where).toBe(true)
        expect(podSpec.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault')
        for (const container of podSpec.containers) {
          expect(container.securityContext, `${where} ${container.name}`).toMatchObject({
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          })
          expect(container.resources?.requests, `${where} ${container.name} requests`).toBeDefined()
          expect(container.resources?.limits?.memory, `${where} ${container.name} memory limit`).toBeDefined()
        }
      }
    }
  })

  it('chart render - the apps read one ConfigMap, probe /healthz and /readyz, and roll when it changes', async () => {
    for (const [set, objects] of await renderAll()) {
      const config = findObject(objects, 'ConfigMap', '-config')
      const apps = podOwners(objects).filter(({ object }) => object.kind === 'Deployment')
      expect(apps.length, set).toBeGreaterThanOrEqual(2)
      for (const { object, podSpec, podAnnotations } of apps) {
        const [container] = podSpec.containers
        const where = `${set}: ${object.metadata.name}`
        expect(container?.envFrom, where).toEqual([{ configMapRef: { name: config.metadata.name } }])
        expect(container?.livenessProbe?.httpGet?.path, where).toBe('/healthz')
        expect(container?.readinessProbe?.httpGet?.path, where).toBe('/readyz')
        expect(podAnnotations['checksum/config'], where).toMatch(/^[0-9a-f]{64}$/)
      }
    }
  })

  it("chart render - every app is probed and scraped on its health and metrics port, the port its ConfigMap gives it, never the ingress's API port", async () => {
    const portSetting: Record<string, string> = { ingress: 'INGRESS_OPS_PORT', worker: 'WORKER_PORT', autoscaler: 'AUTOSCALER_PORT' }
    for (const [set, objects] of await renderAll()) {
      const data = findObject(objects, 'ConfigMap', '-config').data as Record<string, string>
      for (const { object, podSpec } of podOwners(objects).filter(({ object }) => object.kind === 'Deployment')) {
        const app = Object.keys(portSetting).find((name) => object.metadata.name.endsWith(`-${name}`))!
        const [container] = podSpec.containers
        const where = `${set}: ${object.metadata.name}`
        const metricsPort = container?.ports?.find((port) => port.name === 'metrics')
        expect(String(metricsPort?.containerPort), where).toBe(data[portSetting[app]!])
        for (const probe of [container?.startupProbe, container?.livenessProbe, container?.readinessProbe]) expect(probe?.httpGet?.port, where).toBe('metrics')
      }
      const metricsServices = objects.filter((object) => object.kind === 'Service' && object.metadata.name.endsWith('-metrics'))
      expect(
        metricsServices.map((service) => service.metadata.name.replace(/^.*-(\w+)-metrics$/, '$1')),
        set,
      ).toContain('ingress')
    }
  })

  it("chart render - each pod's grace period exceeds its app's exit bound (exit-bounds.ts), the ingress's after its preStop pause", async () => {
    const loaders = { ingress: loadIngressConfig, worker: loadWorkerConfig, autoscaler: loadAutoscalerConfig }
    for (const [set, objects] of await renderAll()) {
      const data = findObject(objects, 'ConfigMap', '-config').data as Record<string, string>
      for (const app of Object.keys(exitBounds) as (keyof typeof exitBounds)[]) {
        const owner = podOwners(objects).find(({ object }) => object.kind === 'Deployment' && object.metadata.name.endsWith(`-${app}`))
        if (!owner) continue // no autoscaler with KEDA
        const preStopMs = (owner.podSpec.containers[0]?.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000
        if (app === 'ingress') expect(preStopMs, set).toBeGreaterThan(0)
        const boundMs = exitBoundMs(exitBounds[app], loaders[app](data))
        expect((owner.podSpec.terminationGracePeriodSeconds ?? 30) * 1000, `${set}: ${app}`).toBeGreaterThan(preStopMs + boundMs)
      }
    }
  })

  it('chart render - a scaler owns the worker replicas: QueueScaler by default, ScaledObject with KEDA, never both', async () => {
    const rendered = await renderAll()
    for (const [set, objects] of rendered) {
      const worker = findObject(objects, 'Deployment', '-worker')
      // HTTP push endpoints' own QueueScalers (worker.http.scaledDeployments) are tested in chart-your-own-jobs.
      const scalers = objects.filter(
        (object) =>
          (object.kind === 'QueueScaler' || object.kind === 'ScaledObject') && object.metadata.labels?.['app.kubernetes.io/component'] !== 'http-endpoint',
      )
      expect(
        scalers.map((scaler) => scaler.kind),
        set,
      ).toEqual([set === 'keda-values.yaml' ? 'ScaledObject' : 'QueueScaler'])
      // With a scaler, replicas stay out of the Deployment so `helm upgrade` does not reset them.
      expect((worker.spec as Record<string, unknown>).replicas, set).toBeUndefined()
      const target = (scalers[0]!.spec as { scaleTargetRef: { name: string } }).scaleTargetRef
      expect(target.name, set).toBe(worker.metadata.name)
    }
    const unscaled = await renderChart({ set: ['autoscaler.enabled=false', 'worker.replicas=3'] })
    expect((findObject(unscaled, 'Deployment', '-worker').spec as Record<string, unknown>).replicas).toBe(3)
    expect(unscaled.some((object) => object.kind === 'QueueScaler' || object.kind === 'Role')).toBe(false)
  })

  it('chart render - with ingress.autoscaling an HPA on CPU owns the ingress replicas; without, the Deployment sets them', async () => {
    const rendered = await renderAll()
    for (const [set, objects] of rendered) {
      const ingress = findObject(objects, 'Deployment', '-ingress')
      const hpas = objects.filter((object) => object.kind === 'HorizontalPodAutoscaler')
      if (set !== 'nats-cluster-values.yaml') {
        expect(hpas, set).toEqual([])
        expect((ingress.spec as Record<string, unknown>).replicas, set).toEqual(expect.any(Number))
        continue
      }
      expect(hpas.length, set).toBe(1)
      // Replicas stay out of the Deployment, so `helm upgrade` does not reset the count the HPA chose.
      expect((ingress.spec as Record<string, unknown>).replicas, set).toBeUndefined()
      expect(hpas[0]!.spec, set).toEqual({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: ingress.metadata.name },
        minReplicas: 3,
        maxReplicas: 12,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      })
    }
  })

  it('chart render - the stream replicas follow the built-in NATS size and NATS gets cluster routes at 3', async () => {
    const rendered = await renderAll()
    const replicasOf = (set: string): string | undefined =>
      (findObject(rendered.get(set) ?? [], 'ConfigMap', '-config').data as Record<string, string>).QUEUE_REPLICAS
    expect(replicasOf('default-values.yaml')).toBe('1')
    expect(replicasOf('nats-cluster-values.yaml')).toBe('3')
    expect(replicasOf('external-nats-values.yaml')).toBe('3')
    const natsConfig = findObject(rendered.get('nats-cluster-values.yaml') ?? [], 'ConfigMap', '-nats-config').data as Record<string, string>
    expect(natsConfig['nats.conf']).toContain('include ../nats-routes/routes.conf')
    // The routes, with their credentials, are in a Secret (test/chart/nats-route-auth.test.ts starts them).
    const routes = findObject(rendered.get('nats-cluster-values.yaml') ?? [], 'Secret', '-nats-routes').stringData as Record<string, string>
    expect(routes['routes.conf']?.match(/nats:\/\/route:[A-Za-z0-9]{40}@demo-sluice-nats-\d\.demo-sluice-nats-headless\.sluice\.svc:6222/g)).toHaveLength(3)
    expect(rendered.get('default-values.yaml')?.some((object) => object.metadata.name.endsWith('-nats-routes'))).toBe(false)
    expect(rendered.get('external-nats-values.yaml')?.some((object) => object.kind === 'StatefulSet')).toBe(false)
  })

  it('chart render - credentials come from the Secret and the QueueScaler names it', async () => {
    const objects = await renderChart({ valuesFiles: [ciValuesFile('nats-cluster-values.yaml')] })
    const secret = findObject(objects, 'Secret', '-nats-auth')
    expect(Object.keys(secret.stringData as object).sort()).toEqual(['password', 'user'])
    const scaler = findObject(objects, 'QueueScaler')
    expect((scaler.spec as { nats: unknown }).nats).toEqual({
      url: 'nats://demo-sluice-nats.sluice.svc:4222',
      credentialsSecretRef: { name: secret.metadata.name },
    })
    const config = findObject(objects, 'ConfigMap', '-config').data as Record<string, string>
    expect(Object.keys(config).filter((name) => /PASSWORD|TOKEN|USER/.test(name))).toEqual([])
    for (const { object, podSpec } of podOwners(objects).filter(({ object }) => object.kind !== 'Pod')) {
      const names = podSpec.containers[0]?.env?.map((variable) => variable.name) ?? []
      expect(names, object.metadata.name).toEqual(expect.arrayContaining(['NATS_USER', 'NATS_PASSWORD']))
    }
  })

  it('chart render - the helm test pod enqueues through the ingress Service with the app image', async () => {
    const objects = await renderChart()
    const pod = findObject(objects, 'Pod', '-smoke-test')
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test')
    const [container] = (pod.spec as { containers: Array<{ image: string; env: Array<{ name: string; value: string }>; args: string[] }> }).containers
    const ingress = podOwners([findObject(objects, 'Deployment', '-ingress')])[0]
    expect(container?.image).toBe((ingress?.podSpec.containers[0] as { image?: string } | undefined)?.image)
    expect(container?.env.find((variable) => variable.name === 'SLUICE_URL')?.value).toBe('http://demo-sluice-ingress.sluice.svc:8080')
    expect(container?.args.join(' ')).toMatch(/\/v1\/jobs[\s\S]*\/v1\/queue/)
  })
})
