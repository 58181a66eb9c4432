import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { allSettingGroups, type Setting } from '@sluice/core'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { configRulesTemplate, CONFIG_RULES_TEMPLATE } from '../../scripts/chart-config-rules.ts'
import { schemaWithConfig, valuesWithConfig } from '../../scripts/chart-config.ts'
import { pinnedVersion, repoRoot } from '../support/repo-paths.ts'
import { chartDir, ciValuesFile, findObject, helmSkipReason, renderChart } from './helm.ts'

const run = promisify(execFile)

const settings = new Map<string, Setting<unknown>>(
  Object.values(allSettingGroups).flatMap((group) => Object.values(group as Record<string, Setting<unknown>>).map((setting) => [setting.env, setting])),
)
const valuesText = await readFile(join(chartDir, 'values.yaml'), 'utf8')
const values = parse(valuesText) as { config: Record<string, unknown>; nats: { builtin: { image: { tag: string } } } }

describe('chart values', () => {
  it('chart values - the default NATS image tag is the nats-server version the tests pin', () => {
    expect(values.nats.builtin.image.tag).toBe(`${pinnedVersion('NATS_SERVER_VERSION').replace(/^v/, '')}-alpine`)
  })

  it('chart values - the config block, its schema and its rules are the ones generated from the settings (run `make docs`)', async () => {
    expect(valuesText, 'values.yaml: config').toBe(valuesWithConfig(valuesText))
    const schema = await readFile(join(chartDir, 'values.schema.json'), 'utf8')
    expect(schema, 'values.schema.json: properties.config').toBe(schemaWithConfig(schema))
    expect(await readFile(join(repoRoot, CONFIG_RULES_TEMPLATE), 'utf8'), CONFIG_RULES_TEMPLATE).toBe(configRulesTemplate())
  })

  it("chart values - config reads back as the apps' own defaults, but where the chart says it differs", () => {
    for (const [name, value] of Object.entries(values.config)) {
      // QUEUE_REPLICAS is null: it follows the built-in NATS's size (1 or 3) unless set.
      if (name === 'QUEUE_REPLICAS') expect(value).toBeNull()
      // The pods warm their accept path before they take traffic; the app's default (0) keeps local runs quick.
      else if (name === 'INGRESS_WARMUP_REQUESTS') expect(value).toBe(3000)
      else expect(value, name).toEqual(settings.get(name)?.default)
    }
  })

  const skipReason = helmSkipReason()
  it.skipIf(skipReason)(
    `chart values - every rendered ConfigMap loads in the apps' own config loaders${skipReason ? ` (skipped: ${skipReason})` : ''}`,
    async () => {
      const { loadAutoscalerConfig, loadIngressConfig, loadWorkerConfig } = await import('@sluice/core')
      for (const set of ['default-values.yaml', 'nats-cluster-values.yaml', 'external-nats-values.yaml']) {
        const data = findObject(await renderChart({ valuesFiles: [ciValuesFile(set)] }), 'ConfigMap', '-config').data as Record<string, string>
        // The pod adds the credentials (from the Secret) and, for the autoscaler, its namespace and name.
        const env = { ...data, NATS_USER: 'u', NATS_PASSWORD: 'p', AUTOSCALER_NAMESPACE: 'sluice', AUTOSCALER_IDENTITY: 'pod-0' }
        expect(() => loadIngressConfig(env), set).not.toThrow()
        expect(() => loadWorkerConfig(env), set).not.toThrow()
        expect(() => loadAutoscalerConfig(env), set).not.toThrow()
      }
    },
  )

  it.skipIf(skipReason)(
    `chart values - the built-in NATS configuration is valid for the pinned nats-server${skipReason ? ` (skipped: ${skipReason})` : ''}`,
    async () => {
      const natsServer = process.env.NATS_SERVER_BIN ?? join(chartDir, '..', '..', '.tools', 'bin', 'nats-server')
      const dir = await mkdtemp(join(tmpdir(), 'sluice-nats-conf-'))
      try {
        for (const set of ['default-values.yaml', 'nats-cluster-values.yaml']) {
          const objects = await renderChart({ valuesFiles: [ciValuesFile(set)] })
          const conf = (findObject(objects, 'ConfigMap', '-nats-config').data as Record<string, string>)['nats.conf'] ?? ''
          // The routes Secret where the pod mounts it beside the config (/etc/nats, /etc/nats-routes).
          const routes = objects.find((object) => object.kind === 'Secret' && object.metadata.name.endsWith('-nats-routes'))
          await mkdir(join(dir, 'nats'), { recursive: true })
          if (routes) {
            await mkdir(join(dir, 'nats-routes'), { recursive: true })
            await writeFile(join(dir, 'nats-routes', 'routes.conf'), (routes.stringData as Record<string, string>)['routes.conf'] ?? '')
          }
          const file = join(dir, 'nats', `${set}.conf`)
          // Paths that exist on this machine; everything else as rendered.
          await writeFile(file, conf.replace('store_dir: /data', `store_dir: ${join(dir, 'store')}`).replace('/var/run/nats/', `${dir}/`))
          const { stderr, stdout } = await run(natsServer, ['-c', file, '-t'], {
            env: { ...process.env, SERVER_NAME: 'nats-0', NATS_USER: 'u', NATS_PASSWORD: 'p' },
          })
          expect(stdout + stderr, set).toMatch(/is valid/)
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  )
})
