import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { parseAllDocuments } from 'yaml'
import { findExecutable, pinnedVersion, repoRoot } from '../support/repo-paths.ts'

const run = promisify(execFile)

/** The chart under test. */
export const chartDir = join(repoRoot, 'charts', 'sluice')

/** The value sets CI renders: `charts/sluice/ci/*-values.yaml`, by file name. */
export const ciValueSets: readonly string[] = readdirSync(join(chartDir, 'ci'))
  .filter((file) => file.endsWith('-values.yaml'))
  .sort()

/**
 * Kubernetes version templates are rendered for: the control plane the tests apply to. A `go install`-built
 * helm would otherwise assume its compiled-in default (v1.20), older than the chart's kubeVersion.
 */
export const kubeVersion = pinnedVersion('KUBERNETES_VERSION')

/** `helm`: `HELM_BIN`, else the pinned build in `.tools/bin` (`make helm-tool`), else the first on PATH. */
export function locateHelm(): string | undefined {
  return findExecutable('HELM_BIN', 'helm')
}

/** Why the chart suites cannot run here, for `describe.skipIf`; undefined when helm is present. */
export function helmSkipReason(): string | undefined {
  return locateHelm() ? undefined : 'helm is not installed: build the pinned one with `make helm-tool`'
}

/** A rendered Kubernetes object, as far as these tests look into it. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: unknown
}

/** The outcome of one helm command. */
export interface HelmResult {
  ok: boolean
  stdout: string
  stderr: string
}

/** Runs helm with `args`; never throws for a non-zero exit (the result says so). */
export async function helm(args: readonly string[]): Promise<HelmResult> {
  const bin = locateHelm()
  if (!bin) throw new Error(helmSkipReason())
  try {
    const { stdout, stderr } = await run(bin, [...args], {
      maxBuffer: 32 * 1024 * 1024,
      env: { ...process.env, HELM_CACHE_HOME: join(repoRoot, '.data', 'helm', 'cache'), HELM_CONFIG_HOME: join(repoRoot, '.data', 'helm', 'config') },
    })
    return { ok: true, stdout, stderr }
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string }
    return { ok: false, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) }
  }
}

/** Options of {@link helmTemplate}. */
export interface TemplateOptions {
  /** Values files, absolute or relative to the repository root. */
  valuesFiles?: readonly string[]
  /** `--set` expressions. */
  set?: readonly string[]
  /** @default 'sluice' */
  namespace?: string
  /** @default 'demo' */
  release?: string
}

/** `helm template` of the chart for the pinned Kubernetes version. */
export function helmTemplate(options: TemplateOptions = {}): Promise<HelmResult> {
  const args = ['template', options.release ?? 'demo', chartDir, '--namespace', options.namespace ?? 'sluice', '--kube-version', kubeVersion]
  for (const file of options.valuesFiles ?? []) args.push('--values', resolve(repoRoot, file))
  for (const expression of options.set ?? []) args.push('--set', expression)
  return helm(args)
}

/** Parses a multi-document manifest into objects, dropping empty documents; throws on invalid YAML. */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text).flatMap((document) => {
    if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors.map((e) => e.message).join('; ')}`)
    const value: unknown = document.toJS()
    return value && typeof value === 'object' ? [value as KubeObject] : []
  })
}

/** Renders the chart with `options` and returns its objects; throws with helm's message when it fails. */
export async function renderChart(options: TemplateOptions = {}): Promise<KubeObject[]> {
  const result = await helmTemplate(options)
  if (!result.ok) throw new Error(`helm template failed: ${result.stderr}`)
  return parseManifests(result.stdout)
}

/** The value-set file for `helm --values`, relative to the repository root. */
export function ciValuesFile(name: string): string {
  return join('charts', 'sluice', 'ci', name)
}

/** The first object of `kind` whose name ends with `suffix`; throws when absent. */
export function findObject(objects: readonly KubeObject[], kind: string, suffix = ''): KubeObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name.endsWith(suffix))
  if (!found) throw new Error(`no ${kind} named *${suffix} among: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`)
  return found
}
