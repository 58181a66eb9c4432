import { execFile, spawn } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from '../support/repo-paths.ts'

const run = promisify(execFile)

/** The test cluster's kubeconfig (make cluster-up); the suite runs inside the node's network namespace. */
export const kubeconfig = process.env.KUBECONFIG ?? join(repoRoot, '.data', 'cluster', 'kubeconfig')
const toolsBin = join(repoRoot, '.tools', 'bin')

/** A command's output; a failure carries the command and its stderr in the message. */
async function tool(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await run(join(toolsBin, command), args, {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    })
    return stdout
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? ''
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim().slice(-2000)}`, { cause: error })
  }
}

/** `kubectl ARGS` (60 s bound unless told). */
export function kubectl(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return tool('kubectl', args, timeoutMs)
}

/** `helm ARGS` (10 min bound: installs wait for pods). */
export function helm(args: readonly string[], timeoutMs = 600_000): Promise<string> {
  return tool('helm', args, timeoutMs)
}

/** `kubectl get ... -o json`, parsed. */
export async function getJson<T>(args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T
}

/** `curl -sS ARGS` from inside the node's network namespace: [status, body]. */
export async function curl(args: readonly string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args])
  const cut = stdout.lastIndexOf('\n')
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) }
}

/**
 * `POST <url>/v1/jobs` with `job` as its JSON body through `curl`, with an Idempotency-Key when `id` is given
 * and any `extra` curl arguments first (a Host header for the Ingress).
 */
export function curlPostJob(url: string, job: object, id?: string, extra: readonly string[] = []): Promise<{ status: number; body: string }> {
  const idempotency = id === undefined ? [] : ['-H', `idempotency-key: ${id}`]
  return curl([...extra, '-X', 'POST', `${url}/v1/jobs`, '-H', 'content-type: application/json', ...idempotency, '-d', JSON.stringify(job)])
}

/** Follows one pod's log (`kubectl logs -f`) until its container stops; `lines` grows as it goes. */
export function followLog(namespace: string, pod: string, onLine: (line: string) => void): { stop(): void } {
  const child = spawn(join(toolsBin, 'kubectl'), ['-n', namespace, 'logs', '-f', pod], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) onLine(line)
  })
  return { stop: () => child.kill('SIGTERM') }
}
