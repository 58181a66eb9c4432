import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { allSettingGroups, type Setting } from '@sluice/core'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { pinnedVersion } from '../support/repo-paths.ts'
import { chartDir, ciValuesFile, findObject, helmSkipReason, renderChart } from './helm.ts'

const run = promisify(execFile)

// Settings the chart sets itself instead of taking them from `config` (values.yaml says which and why).
const chartOwned = new Set([
  'NATS_URL', 'NATS_USER', 'NATS_PASSWORD', 'NATS_TOKEN', 'NATS_CREDS_FILE',
  'NATS_TLS_CA_FILE', 'NATS_TLS_CERT_FILE', 'NATS_TLS_KEY_FILE', 'INGRESS_API_KEYS_FILE',
  'HOST', 'PORT', 'WORKER_HOST', 'WORKER_PORT', 'AUTOSCALER_HOST', 'AUTOSCALER_PORT',
  'AUTOSCALER_MODE', 'AUTOSCALER_NAMESPACE', 'AUTOSCALER_IDENTITY',
])
const settings = new Map<string, Setting<unknown>>(
  Object.values(allSettingGroups).flatMap((group) => Object.values(group as Record<string, Setting<unknown>>).map((setting) => [setting.env, setting])),
)
// AUTOSCALE_* is the local (make dev) policy; in Kubernetes each QueueScaler carries its own (values: scaling).
const inKubernetes = (name: string): boolean => !chartOwned.has(name) && !name.startsWith('AUTOSCALE_')

const values = parse(await readFile(join(chartDir, 'values.yaml'), 'utf8')) as { config: Record<string, unknown>; nats: { builtin: { image: { tag: string } } } }
const schema = JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8')) as {
  properties: { config: { properties: Record<string, { minimum?: number; maximum?: number; enum?: string[] }> } }
}
const configSchema = schema.properties.config.properties

function accepts(setting: Setting<unknown>, raw: string): boolean {
  try {
    setting.parse(raw)
    return true
  } catch {
    return false
  }
}

describe('chart values', () => {
  it('chart values - the default NATS image tag is the nats-server version the tests pin', () => {
    expect(values.nats.builtin.image.tag).toBe(`${pinnedVersion('NATS_SERVER_VERSION').replace(/^v/, '')}-alpine`)
  })

  it('chart values - config offers exactly the settings the apps read in Kubernetes, and no invented ones', () => {
    const expected = [...settings.keys()].filter(inKubernetes).sort()
    expect(Object.keys(values.config).sort()).toEqual(expected)
    expect(Object.keys(configSchema).sort()).toEqual(expected)
  })

  it('chart values - config defaults are the apps\' own defaults', () => {
    for (const [name, value] of Object.entries(values.config)) {
      const setting = settings.get(name)
      // QUEUE_REPLICAS is null: it follows the built-in NATS's size (1 or 3) unless set.
      if (name === 'QUEUE_REPLICAS') expect(value).toBeNull()
      else expect(value, name).toEqual(setting?.default)
    }
  })

  it('chart values - the schema\'s bounds and enums are the apps\' own', () => {
    for (const [name, rule] of Object.entries(configSchema)) {
      const setting = settings.get(name)
      if (!setting) throw new Error(`${name} is not a setting`)
      if (rule.minimum !== undefined) {
        expect(accepts(setting, String(rule.minimum)), `${name} accepts its schema minimum`).toBe(true)
        expect(accepts(setting, String(rule.minimum - 1)), `${name} refuses below the schema minimum`).toBe(false)
      }
      if (rule.maximum !== undefined) {
        expect(accepts(setting, String(rule.maximum)), `${name} accepts its schema maximum`).toBe(true)
        expect(accepts(setting, String(rule.maximum + 1)), `${name} refuses above the schema maximum`).toBe(false)
      }
      for (const word of rule.enum ?? []) expect(accepts(setting, word), `${name} accepts ${word}`).toBe(true)
    }
  })

  const skipReason = helmSkipReason()
  it.skipIf(skipReason)(`chart values - every rendered ConfigMap loads in the apps' own config loaders${skipReason ? ` (skipped: ${skipReason})` : ''}`, async () => {
    const { loadAutoscalerConfig, loadIngressConfig, loadWorkerConfig } = await import('@sluice/core')
    for (const set of ['default-values.yaml', 'nats-cluster-values.yaml', 'external-nats-values.yaml']) {
      const data = findObject(await renderChart({ valuesFiles: [ciValuesFile(set)] }), 'ConfigMap', '-config').data as Record<string, string>
      // The pod adds the credentials (from the Secret) and, for the autoscaler, its namespace and name.
      const env = { ...data, NATS_USER: 'u', NATS_PASSWORD: 'p', AUTOSCALER_NAMESPACE: 'sluice', AUTOSCALER_IDENTITY: 'pod-0' }
      expect(() => loadIngressConfig(env), set).not.toThrow()
      expect(() => loadWorkerConfig(env), set).not.toThrow()
      expect(() => loadAutoscalerConfig(env), set).not.toThrow()
    }
  })

  it.skipIf(skipReason)(`chart values - the built-in NATS configuration is valid for the pinned nats-server${skipReason ? ` (skipped: ${skipReason})` : ''}`, async () => {
    const natsServer = process.env.NATS_SERVER_BIN ?? join(chartDir, '..', '..', '.tools', 'bin', 'nats-server')
    const dir = await mkdtemp(join(tmpdir(), 'sluice-nats-conf-'))
    try {
      for (const set of ['default-values.yaml', 'nats-cluster-values.yaml']) {
        const conf = (findObject(await renderChart({ valuesFiles: [ciValuesFile(set)] }), 'ConfigMap', '-nats-config').data as Record<string, string>)['nats.conf'] ?? ''
        const file = join(dir, `${set}.conf`)
        // Paths that exist on this machine; everything else as rendered.
        await writeFile(file, conf.replace('store_dir: /data', `store_dir: ${join(dir, 'store')}`).replace('/var/run/nats/', `${dir}/`))
        const { stderr, stdout } = await run(natsServer, ['-c', file, '-t'], { env: { ...process.env, SERVER_NAME: 'nats-0', NATS_USER: 'u', NATS_PASSWORD: 'p' } })
        expect(stdout + stderr, set).toMatch(/is valid/)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
