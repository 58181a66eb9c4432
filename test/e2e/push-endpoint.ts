// An HTTP push endpoint as a user would run one (docs/your-own-jobs.md): a Deployment and Service of its own,
// beside the release. It refuses a request whose signature (Sluice-Timestamp, Sluice-Signature) does not check
// out with the shared secret (401: the worker dead-letters the job), and answers `{ shouted, pod }` after the
// payload's `workMs`, so a flood of slow jobs builds the backlog its QueueScaler scales it by.

/** The server, run by the Sluice image's Node (the cluster pulls nothing, so it reuses an image it has). */
const serverScript = `
import { createServer } from 'node:http'
import { createHmac, timingSafeEqual } from 'node:crypto'
const secret = process.env.SIGNING_SECRET
const signed = (body, timestamp, signature) => {
  if (!(Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300)) return false
  const expected = 'v1=' + createHmac('sha256', secret).update(timestamp + '.').update(body).digest('hex')
  return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature))
}
createServer((request, response) => {
  const chunks = []
  request.on('data', (chunk) => chunks.push(chunk))
  request.on('end', () => {
    if (request.url === '/healthz') return response.end('ok')
    const body = Buffer.concat(chunks)
    if (!signed(body, String(request.headers['sluice-timestamp'] ?? ''), String(request.headers['sluice-signature'] ?? ''))) {
      return response.writeHead(401).end('bad signature')
    }
    const { text, workMs = 0 } = JSON.parse(body)
    setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ shouted: text.toUpperCase(), pod: process.env.HOSTNAME })), workMs)
  })
}).listen(8080)
`

/** The Deployment (one replica; its QueueScaler takes over) and Service `name`, reading the key from `secret`. */
export function pushEndpointManifests(options: { name: string; namespace: string; image: string; secret: { name: string; key: string } }): object[] {
  const { name, namespace, image, secret } = options
  const labels = { app: name }
  const restricted = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: 1000,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  }
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          enableServiceLinks: false,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name,
              image,
              imagePullPolicy: 'Never',
              args: ['--input-type=module', '-e', serverScript],
              env: [{ name: 'SIGNING_SECRET', valueFrom: { secretKeyRef: secret } }],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
              securityContext: restricted,
            },
          ],
        },
      },
    },
  }
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
  }
  return [deployment, service]
}
