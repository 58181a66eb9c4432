import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { dumpYaml, KubeConfig } from '@kubernetes/client-node'
import { defaultBinDir, locateBinaries, type ControlPlaneBinaries } from './binaries.ts'
import { freeLoopbackPorts } from '../support/free-port.ts'
import { startManagedProcess, type ManagedProcess } from '../support/managed-process.ts'
import { generatePki, type ControlPlanePki } from './pki.ts'
import { waitForReadyz } from './readyz.ts'
import { kubeConfigAs, type ServiceAccountRef } from './service-account.ts'
import { createStateDir, sweepAbandonedStateDirs } from './state-dir.ts'

export { controlPlaneSkipReason, ControlPlaneBinariesMissingError } from './binaries.ts'
export {
  kubeConfigAs,
  kubeConfigWithServiceAccountToken,
  serviceAccountUsername,
  type ServiceAccountRef,
  type ServiceAccountTokenOptions,
} from './service-account.ts'

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /**
   * Also run kube-controller-manager, so Deployments get ReplicaSets and namespaces their `default`
   * ServiceAccount. Pods stay Pending either way: there is no kubelet or scheduler.
   * @default true
   */
  controllerManager?: boolean
  /**
   * How long to wait for etcd and kube-apiserver to answer `/readyz`, in milliseconds.
   * @default 60000
   */
  startTimeoutMs?: number
  /**
   * Folder holding the binaries.
   * @default `SLUICE_CONTROLPLANE_BIN`, else `<repo>/.tools/bin`
   */
  binDir?: string
  /**
   * Another path to write the admin kubeconfig to (besides the one in the state folder); removed by close().
   * @default none
   */
  kubeconfigPath?: string
  /**
   * Keep the state folder (data, PKI, logs) after close(), for debugging.
   * @default false
   */
  keepState?: boolean
}

/** A running etcd + kube-apiserver (+ kube-controller-manager) on loopback, with RBAC on. */
export interface ControlPlane {
  /** Base URL of kube-apiserver, e.g. `https://127.0.0.1:40123`. */
  readonly server: string
  /** Admin kubeconfig file (user `sluice-admin` in `system:masters`), with embedded credentials. */
  readonly kubeconfigPath: string
  /** The admin kubeconfig, loaded. */
  readonly kubeConfig: KubeConfig
  /** State folder: etcd data, PKI, one `<component>.log` per process. */
  readonly stateDir: string
  /** A KubeConfig that acts as a ServiceAccount through impersonation; see {@link kubeConfigAs}. */
  kubeConfigAs(sa: ServiceAccountRef): KubeConfig
  /** Stops every process (process groups, SIGTERM then SIGKILL) and removes the state folder. Idempotent. */
  close(): Promise<void>
}

/** Thrown when the control plane does not come up; the message carries the tail of the failing log. */
export class ControlPlaneStartError extends Error {
  readonly code = 'CONTROLPLANE_START_FAILED'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ControlPlaneStartError'
  }
}

// First address of the range is the `kubernetes` Service; certgen puts 10.0.0.1 in the serving cert.
const serviceClusterIpRange = '10.0.0.0/24'
// Seconds each process gets to stop after SIGTERM before SIGKILL.
const stopGraceMs = 5_000

function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  return [
    '--name=sluice',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=sluice=${peer}`,
    // Test data is thrown away: durability costs only time.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]
}

function apiserverArgs(pki: ControlPlanePki, etcdPort: number, port: number, certDir: string): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${serviceClusterIpRange}`,
    '--allow-privileged=true',
    // The `kubernetes` Service's Endpoints would point at 127.0.0.1, which validation rejects every 10 s; no
    // pod runs here to use it anyway.
    '--endpoint-reconciler-type=none',
  ]
}

function controllerManagerArgs(pki: ControlPlanePki, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    // Nothing scrapes it, and a port less is a race less.
    '--secure-port=0',
    // Each controller acts as its own ServiceAccount, as on a real cluster, so RBAC stays realistic.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--service-cluster-ip-range=${serviceClusterIpRange}`,
    '--leader-elect=false',
  ]
}

async function kubeconfigFor(server: string, caCert: string, name: string, cert: string, key: string): Promise<KubeConfig> {
  const base64 = async (path: string): Promise<string> => (await readFile(path)).toString('base64')
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'sluice', server, caData: await base64(caCert), skipTLSVerify: false }],
    users: [{ name, certData: await base64(cert), keyData: await base64(key) }],
    contexts: [{ name: 'sluice', cluster: 'sluice', user: name, namespace: 'default' }],
    currentContext: 'sluice',
  })
  return kubeConfig
}

/** The kubeconfig as YAML, the form kubectl and Helm users expect to read. */
function kubeconfigYaml(kubeConfig: KubeConfig): string {
  return dumpYaml(JSON.parse(kubeConfig.exportConfig()))
}

/**
 * Starts a fresh control plane in a new temporary folder and resolves once kube-apiserver is ready.
 * Takes a few seconds; call close() when done (tests: in afterAll).
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  if (options.startTimeoutMs !== undefined && !(options.startTimeoutMs > 0)) {
    throw new RangeError(`startTimeoutMs must be a positive number of milliseconds, got ${options.startTimeoutMs}`)
  }
  const binaries = locateBinaries(options.binDir ?? defaultBinDir)
  await sweepAbandonedStateDirs()
  const stateDir = await createStateDir()
  const processes: ManagedProcess[] = []
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= stopAll(processes, options.keepState ? [options.kubeconfigPath] : [stateDir, options.kubeconfigPath])
    return closing
  }
  try {
    const handle = await bootWithFreshPorts(binaries, stateDir, processes, options)
    return { ...handle, stateDir, kubeConfigAs: (sa) => kubeConfigAs(handle.kubeConfig, sa), close }
  } catch (error) {
    await close()
    throw error
  }
}

// Boots: the ports are free when picked but bound a moment later, so another process may take one in
// between (an outgoing connection's ephemeral port). That alone is retried, on new ports.
const BOOT_ATTEMPTS = 3
async function bootWithFreshPorts(
  binaries: ControlPlaneBinaries,
  stateDir: string,
  processes: ManagedProcess[],
  options: ControlPlaneOptions,
): Promise<{ server: string; kubeconfigPath: string; kubeConfig: KubeConfig }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await boot(binaries, stateDir, processes, options)
    } catch (error) {
      const portTaken = processes.some((started) => /address already in use/.test(started.log()))
      if (!portTaken || attempt === BOOT_ATTEMPTS) throw error
      // A store begun on the old ports would remember them: start it afresh.
      await stopAll(processes.splice(0), [join(stateDir, 'etcd'), join(stateDir, 'apiserver')])
    }
  }
}

async function boot(
  binaries: ControlPlaneBinaries,
  stateDir: string,
  processes: ManagedProcess[],
  options: ControlPlaneOptions,
): Promise<{ server: string; kubeconfigPath: string; kubeConfig: KubeConfig }> {
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000)
  const pki = await generatePki(binaries.certgen, join(stateDir, 'pki'))
  const [etcdPort = 0, peerPort = 0, apiserverPort = 0] = await freeLoopbackPorts(3)
  const start = (name: string, command: string, args: string[]): ManagedProcess => {
    const started = startManagedProcess({
      name,
      command,
      args,
      logPath: join(stateDir, `${name}.log`),
      orphanGuard: binaries.orphanGuard,
    })
    processes.push(started)
    return started
  }
  // kube-apiserver retries etcd until it answers, so both start at once: its /readyz covers etcd.
  start('etcd', binaries.etcd, etcdArgs(join(stateDir, 'etcd'), etcdPort, peerPort))
  start('kube-apiserver', binaries.kubeApiserver, apiserverArgs(pki, etcdPort, apiserverPort, join(stateDir, 'apiserver')))

  const server = `https://127.0.0.1:${apiserverPort}`
  const kubeConfig = await kubeconfigFor(server, pki.caCert, 'sluice-admin', pki.adminCert, pki.adminKey)
  const kubeconfigPath = join(stateDir, 'kubeconfig')
  await writeFile(kubeconfigPath, kubeconfigYaml(kubeConfig), { mode: 0o600 })
  if (options.kubeconfigPath) {
    await mkdir(dirname(options.kubeconfigPath), { recursive: true })
    await writeFile(options.kubeconfigPath, kubeconfigYaml(kubeConfig), { mode: 0o600 })
  }
  try {
    await waitForReadyz(server, pki, deadline, processes)
  } catch (error) {
    throw new ControlPlaneStartError(error instanceof Error ? error.message : String(error), { cause: error })
  }

  if (options.controllerManager ?? true) {
    const kcm = await kubeconfigFor(server, pki.caCert, 'system:kube-controller-manager', pki.controllerManagerCert, pki.controllerManagerKey)
    const kcmPath = join(stateDir, 'controller-manager.kubeconfig')
    await writeFile(kcmPath, kubeconfigYaml(kcm), { mode: 0o600 })
    start('kube-controller-manager', binaries.kubeControllerManager, controllerManagerArgs(pki, kcmPath))
  }
  return { server, kubeconfigPath, kubeConfig }
}

// Stops in reverse start order (controllers, then the API server, then its store), each in its own try.
async function stopAll(processes: ManagedProcess[], paths: Array<string | undefined>): Promise<void> {
  for (const managed of [...processes].reverse()) {
    try {
      await managed.stop(stopGraceMs)
    } catch {
      // stop() only fails if the process is already gone.
    }
  }
  for (const path of paths) {
    if (!path) continue
    try {
      await rm(path, { recursive: true, force: true })
    } catch {
      // A leftover temp folder is not worth failing a test run over.
    }
  }
}
