import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ProblemType } from '../../apps/ingress/src/problem.ts'
import { CONFIG_DOC_PATH, docWithTable } from '../../scripts/config-table.ts'
import { repoRoot } from '../support/repo-paths.ts'

const read = (path: string): string => readFileSync(join(repoRoot, path), 'utf8')
const readme = read('README.md')
const documents = ['README.md', 'CONTRIBUTING.md', 'docs/api.md', 'docs/configuration.md', 'docs/operations.md', 'docs/autoscaler.md', 'docs/performance.md']

describe('readme', () => {
  it('readme - shows the two commands first', () => {
    const firstBlock = readme.slice(0, readme.indexOf('## '))
    expect(firstBlock).toMatch(/make dev/)
    expect(firstBlock).toMatch(/make test/)
  })

  it('readme - leaves a place for running on Kubernetes without Docker, in its Kubernetes quick start', () => {
    const kubernetes = readme.slice(readme.indexOf('## Kubernetes quick start'), readme.indexOf('## Your own jobs'))
    expect(kubernetes).toMatch(/Run it on Kubernetes without Docker/)
  })

  it('docs - the configuration table is the one generated from the settings (run `make docs`)', () => {
    const doc = readFileSync(CONFIG_DOC_PATH, 'utf8')
    expect(doc).toBe(docWithTable(doc))
  })

  it('docs - the error catalogue names every problem type the ingress answers with', () => {
    const api = read('docs/api.md')
    const missing = Object.values(ProblemType).filter(({ type, status }) => !api.includes(`| \`${type.replace('urn:sluice:problem:', '')}\` | ${status}`))
    expect(missing).toEqual([])
  })

  it('docs - every relative link points at a file of the repository', () => {
    const broken: string[] = []
    for (const document of documents) {
      for (const [, target] of read(document).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue
        if (!existsSync(join(repoRoot, dirname(document), target!))) broken.push(`${document}: ${target}`)
      }
    }
    expect(broken).toEqual([])
  })
})
