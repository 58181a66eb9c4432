// `make controlplane`: runs a local control plane in the foreground until Ctrl-C, SIGTERM or SIGHUP, with the admin
// kubeconfig at .data/controlplane/kubeconfig (removed again on stop).
import { join } from 'node:path'
import { repoRoot } from '../support/repo-paths.ts'
import { startControlPlane } from './control-plane.ts'

const kubeconfigPath = join(repoRoot, '.data', 'controlplane', 'kubeconfig')
const startedAt = performance.now()
const controlPlane = await startControlPlane({ kubeconfigPath })
const seconds = ((performance.now() - startedAt) / 1000).toFixed(1)

console.log(`control plane ready in ${seconds} s at ${controlPlane.server}`)
console.log(`state and logs: ${controlPlane.stateDir}`)
console.log(`export KUBECONFIG=${kubeconfigPath}`)
console.log('Ctrl-C stops it')

let stopping = false
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) return
  stopping = true
  console.log(`${signal}: stopping`)
  controlPlane.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    },
  )
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
// A closed terminal sends SIGHUP; without a handler Node would die before close() removed anything.
process.on('SIGHUP', stop)
