import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readmeWithTable } from '../../scripts/config-table.ts'
import { repoRoot } from '../support/repo-paths.ts'

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')

describe('readme', () => {
  it('readme - shows the two commands first', () => {
    const firstBlock = readme.slice(0, readme.indexOf('## '))
    expect(firstBlock).toMatch(/make dev/)
    expect(firstBlock).toMatch(/make test/)
  })

  it('readme - the configuration table is the one generated from the settings (run `make docs`)', () => {
    expect(readme).toBe(readmeWithTable(readme))
  })
})
