import { describe, expect, it } from 'vitest'
import { ciValuesFile, findObject, helmSkipReason, renderChart, type KubeObject } from './helm.ts'
import { podOwners } from './pod-specs.ts'

const skipReason = helmSkipReason()

interface PolicyRule {
  from?: Array<Record<string, unknown>>
  ports?: Array<{ port: number; protocol: string }>
}

const natsSpec = (objects: KubeObject[]): unknown => (findObject(objects, 'QueueScaler').spec as { nats: unknown }).nats
const secretRule = (objects: KubeObject[]): unknown =>
  (findObject(objects, 'Role').rules as Array<{ resources?: string[] }>).find((rule) => rule.resources?.includes('secrets'))
const natsIngress = (objects: KubeObject[]): PolicyRule[] => (findObject(objects, 'NetworkPolicy', '-nats').spec as { ingress: PolicyRule[] }).ingress
const monitoringPeers = (objects: KubeObject[]): Array<Record<string, unknown>> | undefined =>
  natsIngress(objects).find((rule) => rule.ports?.some((port) => port.port === 8222))?.from

// The external-NATS value set (token Secret + TLS Secret), with our autoscaler instead of KEDA.
const externalTls = { valuesFiles: [ciValuesFile('external-nats-values.yaml')], set: ['keda.enabled=false', 'autoscaler.enabled=true'] }
const kedaOperator = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } },
  podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } },
}

describe.skipIf(skipReason)(`chart nats security${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it("chart nats security - with nats.tls the QueueScaler names the apps' TLS Secret and the Role may read it and the credentials", async () => {
    const objects = await renderChart({ ...externalTls, set: [...externalTls.set, 'nats.tls.clientCertificate=true'] })
    expect(natsSpec(objects)).toEqual({
      url: 'nats://nats.nats.svc:4222',
      credentialsSecretRef: { name: 'sluice-nats-credentials' },
      tlsSecretRef: { name: 'sluice-nats-tls' },
    })
    expect(secretRule(objects)).toEqual({
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['sluice-nats-credentials', 'sluice-nats-tls'],
      verbs: ['get'],
    })
    // The same Secret the apps mount for NATS_TLS_CA_FILE / NATS_TLS_CERT_FILE / NATS_TLS_KEY_FILE.
    const config = findObject(objects, 'ConfigMap', '-config').data as Record<string, string>
    expect(config).toMatchObject({ NATS_TLS_CERT_FILE: '/etc/sluice/nats-tls/tls.crt', NATS_TLS_KEY_FILE: '/etc/sluice/nats-tls/tls.key' })
    for (const { object, podSpec } of podOwners(objects).filter(({ object }) => object.kind === 'Deployment')) {
      const volume = (podSpec as { volumes?: Array<{ name: string; secret?: { secretName: string } }> }).volumes?.find((v) => v.name === 'nats-tls')
      expect(volume?.secret?.secretName, object.metadata.name).toBe('sluice-nats-tls')
    }
  })

  it('chart nats security - mutual TLS without credentials: the QueueScaler and the Role name only the TLS Secret', async () => {
    const objects = await renderChart({
      ...externalTls,
      set: [...externalTls.set, 'nats.auth.type=none', 'nats.auth.existingSecret=', 'nats.tls.clientCertificate=true'],
    })
    expect(natsSpec(objects)).toEqual({ url: 'nats://nats.nats.svc:4222', tlsSecretRef: { name: 'sluice-nats-tls' } })
    expect(secretRule(objects)).toEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['sluice-nats-tls'], verbs: ['get'] })
    expect(objects.some((object) => object.kind === 'Secret')).toBe(false)
  })

  it('chart nats security - without nats.tls the QueueScaler has no tlsSecretRef', async () => {
    const objects = await renderChart({ valuesFiles: [ciValuesFile('nats-cluster-values.yaml')] })
    expect(natsSpec(objects)).not.toHaveProperty('tlsSecretRef')
  })

  it("chart nats security - only KEDA's operator pods reach the NATS monitoring port, which has no auth of its own", async () => {
    const keda = await renderChart({ valuesFiles: [ciValuesFile('keda-values.yaml')] })
    expect(monitoringPeers(keda)).toEqual([kedaOperator])
    // Every rule names its ports, so none opens 8222 by leaving them out.
    for (const rule of natsIngress(keda)) expect(rule.ports?.length).toBeGreaterThan(0)
    // The ScaledObject reads the monitoring port with nothing but the endpoint, account and scheme.
    const trigger = (findObject(keda, 'ScaledObject').spec as { triggers: Array<{ metadata: Record<string, string>; authenticationRef?: unknown }> })
      .triggers[0]
    expect(trigger?.authenticationRef).toBeUndefined()
    expect(trigger?.metadata.natsServerMonitoringEndpoint).toMatch(/:8222$/)
  })

  it('chart nats security - the monitoring port is closed without KEDA and metrics peers, and open to exactly the peers named', async () => {
    expect(monitoringPeers(await renderChart({ set: ['networkPolicy.enabled=true'] }))).toBeUndefined()
    const scrapers = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }
    const both = await renderChart({
      valuesFiles: [ciValuesFile('keda-values.yaml')],
      set: [
        'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring',
        'keda.operatorPodLabels.app=keda-operator',
        'keda.namespace=autoscaling',
      ],
    })
    expect(monitoringPeers(both)).toEqual([
      scrapers,
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'autoscaling' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator', app: 'keda-operator' } },
      },
    ])
  })

  it('chart nats security - the NATS client Service carries no monitoring port (8222 has no authentication)', async () => {
    const objects = await renderChart({})
    const client = objects.find((object) => object.kind === 'Service' && object.metadata.name === 'demo-sluice-nats')
    const ports = (client?.spec as { ports: { port: number }[] } | undefined)?.ports.map((port) => port.port)
    expect(ports).toEqual([4222])
  })
})
