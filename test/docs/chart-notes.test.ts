import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { chartDir, helm, helmSkipReason, kubeVersion } from '../chart/helm.ts'

// `helm template` does not render NOTES.txt and `helm install --dry-run` needs a cluster, so a copy of the chart
// renders NOTES.txt through `tpl` into a ConfigMap: the same template, values and helpers as an install.
const copy = mkdtempSync(join(tmpdir(), 'sluice-notes-'))
cpSync(chartDir, copy, { recursive: true })
mkdirSync(join(copy, 'notes'))
renameSync(join(copy, 'templates', 'NOTES.txt'), join(copy, 'notes', 'NOTES.txt'))
writeFileSync(
  join(copy, 'templates', 'notes-render.yaml'),
  'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ tpl (.Files.Get "notes/NOTES.txt") . | quote }}\n',
)

async function renderNotes(set: readonly string[]): Promise<string> {
  const args = ['template', 'demo', copy, '--namespace', 'sluice', '--kube-version', kubeVersion, '--show-only', 'templates/notes-render.yaml']
  for (const expression of set) args.push('--set', expression)
  const result = await helm(args)
  if (!result.ok) throw new Error(result.stderr)
  return (parse(result.stdout) as { data: { notes: string } }).data.notes
}

/** The curl commands the notes print against the ingress, continuation lines joined. */
function curlCommands(notes: string): string[] {
  return notes
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('curl ') && line.includes('$SLUICE'))
}

const skipReason = helmSkipReason()
describe.skipIf(skipReason !== undefined)(`chart notes${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  afterAll(() => rmSync(copy, { recursive: true, force: true }))

  it('chart notes - without API keys, the curl commands carry no key', async () => {
    const commands = curlCommands(await renderNotes([]))
    expect(commands).toHaveLength(3)
    for (const command of commands) expect(command).not.toMatch(/authorization/i)
  })

  it('chart notes - with INGRESS_AUTH=api-key, every curl command sends a key read from the keys Secret', async () => {
    const notes = await renderNotes(['config.INGRESS_AUTH=api-key', 'ingress.apiKeys.existingSecret=sluice-keys', 'ingress.apiKeys.secretKey=api-keys'])
    const commands = curlCommands(notes)
    expect(commands).toHaveLength(3)
    for (const command of commands) expect(command).toContain('-H "authorization: Bearer $SLUICE_KEY"')
    expect(notes).toMatch(/export SLUICE_KEY=\$\(kubectl -n sluice get secret sluice-keys/)
    expect(notes).toContain(`-o go-template='{{index .data "api-keys" | base64decode}}'`)
  })

  it('chart notes - without API keys a warning says the API is open, and how it is exposed', async () => {
    const open = await renderNotes(['ingress.ingressResource.enabled=true', 'ingress.service.type=LoadBalancer'])
    expect(open).toMatch(/WARNING: the API has no authentication/)
    expect(open).toMatch(/redrive the dead letters/)
    expect(open).toMatch(/exposed outside the cluster through an Ingress and a LoadBalancer Service/)
    const keyed = await renderNotes(['config.INGRESS_AUTH=api-key', 'ingress.apiKeys.existingSecret=sluice-keys'])
    expect(keyed).not.toMatch(/no authentication \(config.INGRESS_AUTH/)
  })

  it("chart notes - the job they enqueue is the smoke test's (tests.jobType), which an ingress with jobTypes accepts", async () => {
    expect(curlCommands(await renderNotes([]))[0]).toContain(`-d '{"payload":{},"type":"noop"}'`)
    const own = curlCommands(
      await renderNotes(['jobTypes.greet.description=x', 'tests.jobType=greet', 'tests.payload.name=Ada', 'config.INGRESS_SEED_ROUTE=off']),
    )
    expect(own[0]).toContain(`-d '{"payload":{"name":"Ada"},"type":"greet"}'`)
  })

  it('chart notes - without a NetworkPolicy the notes say NATS and its monitoring port are reachable', async () => {
    expect(await renderNotes([])).toMatch(/monitoring\s+port 8222, which has no authentication/)
    expect(await renderNotes(['networkPolicy.enabled=true'])).not.toMatch(/port 8222/)
  })
})
