import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** PEM files written by sluice-certgen (test/controlplane/certgen), by role. */
export interface ControlPlanePki {
  dir: string
  caCert: string
  caKey: string
  /** kube-apiserver serving certificate, valid for 127.0.0.1, ::1 and localhost. */
  apiserverCert: string
  apiserverKey: string
  /** Client certificate of `sluice-admin`, in group `system:masters`. */
  adminCert: string
  adminKey: string
  /** Client certificate of `system:kube-controller-manager`. */
  controllerManagerCert: string
  controllerManagerKey: string
  /** Service-account token signing key pair. */
  serviceAccountKey: string
  serviceAccountPublicKey: string
}

/** Writes a fresh CA, certificates and signing keys into `dir` with the certgen binary. */
export async function generatePki(certgen: string, dir: string): Promise<ControlPlanePki> {
  await execFileAsync(certgen, [dir])
  const file = (name: string): string => join(dir, name)
  return {
    dir,
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    apiserverCert: file('apiserver.crt'),
    apiserverKey: file('apiserver.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    controllerManagerCert: file('controller-manager.crt'),
    controllerManagerKey: file('controller-manager.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPublicKey: file('sa.pub'),
  }
}
