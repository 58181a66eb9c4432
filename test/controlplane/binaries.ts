import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isExecutable, repoRoot } from '../support/repo-paths.ts'

/**
 * Where `make controlplane-tools` puts the binaries; `SLUICE_CONTROLPLANE_BIN` overrides it.
 * @default `<repo>/.tools/bin`
 */
export const defaultBinDir = process.env.SLUICE_CONTROLPLANE_BIN ?? join(repoRoot, '.tools', 'bin')

/** Absolute paths of the executables a control plane runs. */
export interface ControlPlaneBinaries {
  etcd: string
  kubeApiserver: string
  kubeControllerManager: string
  /** Our PKI generator (test/controlplane/certgen). */
  certgen: string
  /** Our watchdog that stops a server when the test process dies (test/controlplane/orphanguard). */
  orphanGuard: string
}

const fileNames: Record<keyof ControlPlaneBinaries, string> = {
  etcd: 'etcd',
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  certgen: 'sluice-certgen',
  orphanGuard: 'sluice-orphan-guard',
}

/** Thrown when a binary is missing; `code` is stable for callers that want to tell it apart. */
export class ControlPlaneBinariesMissingError extends Error {
  readonly code = 'CONTROLPLANE_BINARIES_MISSING'
  readonly missing: string[]
  constructor(binDir: string, missing: string[]) {
    super(`missing in ${binDir}: ${missing.join(', ')}; build them with \`make controlplane-tools\``)
    this.name = 'ControlPlaneBinariesMissingError'
    this.missing = missing
  }
}

/** The names (e.g. `kube-apiserver`) of the binaries absent from `binDir`. */
export function missingBinaries(binDir = defaultBinDir): string[] {
  return Object.values(fileNames).filter((file) => !isExecutable(join(binDir, file)))
}

/** Paths of every binary in `binDir`; throws {@link ControlPlaneBinariesMissingError} naming the absent ones. */
export function locateBinaries(binDir = defaultBinDir): ControlPlaneBinaries {
  const missing = missingBinaries(binDir)
  if (missing.length > 0) throw new ControlPlaneBinariesMissingError(binDir, missing)
  const entries = Object.entries(fileNames).map(([key, file]) => [key, join(binDir, file)])
  return Object.fromEntries(entries) as ControlPlaneBinaries
}

/** The Go version test/controlplane/go.mod asks for, e.g. `1.26.0`. */
function requiredGoVersion(): string {
  const gomod = readFileSync(join(repoRoot, 'test', 'controlplane', 'go.mod'), 'utf8')
  return /^go (\S+)$/m.exec(gomod)?.[1] ?? '0'
}

function versionAtLeast(have: string, want: string): boolean {
  const parse = (v: string): number[] => v.split('.').map((part) => Number.parseInt(part, 10) || 0)
  const [a, b] = [parse(have), parse(want)]
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0)
    if (diff !== 0) return diff > 0
  }
  return true
}

/** Why the binaries cannot be built here (no Go, or one older than go.mod needs), or undefined if they can. */
export function whyBinariesCannotBeBuilt(): string | undefined {
  const want = requiredGoVersion()
  let have: string
  try {
    have = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  } catch {
    return `no Go toolchain on PATH (test/controlplane/go.mod needs go >= ${want})`
  }
  const version = have.trim().replace(/^go/, '')
  return versionAtLeast(version, want) ? undefined : `go ${version} is older than the go ${want} go.mod needs`
}

/**
 * The reason to skip control-plane suites, or undefined to run them. Suites skip only when the binaries
 * are absent and cannot be built here; absent but buildable is a failure (`make test` builds them first),
 * so a broken build never hides behind a skip.
 */
export function controlPlaneSkipReason(binDir = defaultBinDir): string | undefined {
  const missing = missingBinaries(binDir)
  if (missing.length === 0) return undefined
  const whyNot = whyBinariesCannotBeBuilt()
  return whyNot ? `control plane binaries missing in ${binDir} (${missing.join(', ')}) and ${whyNot}` : undefined
}
