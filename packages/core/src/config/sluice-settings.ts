import { integer, integerList, oneOf, optionalText, text, type SettingGroup } from './settings.ts'

// Names that become NATS stream, consumer or bucket names must be single subject tokens.
const NAME = /^[A-Za-z0-9_-]{1,64}$/
const NAME_HINT = '1-64 characters of A-Z, a-z, 0-9, _ or -'
const KIB = 1024
const MIB = 1024 * KIB

/** How to reach NATS. Credentials are optional; use one of user/password, token or a creds file. */
export const natsSettings = {
  url: text('NATS_URL', { default: 'nats://127.0.0.1:4222', unit: 'url list', doc: 'NATS server URL(s), comma-separated.' }),
  connectTimeoutMs: integer('NATS_CONNECT_TIMEOUT_MS', { default: 5000, min: 100, unit: 'ms', doc: 'Timeout of one connection attempt.' }),
  user: optionalText('NATS_USER', { doc: 'User name for user/password authentication.' }),
  password: optionalText('NATS_PASSWORD', { doc: 'Password for user/password authentication.', secret: true }),
  token: optionalText('NATS_TOKEN', { doc: 'Token for token authentication.', secret: true }),
  credsFile: optionalText('NATS_CREDS_FILE', { unit: 'path', doc: 'Path to a NATS .creds file (JWT + NKey).' }),
  tlsCaFile: optionalText('NATS_TLS_CA_FILE', { unit: 'path', doc: 'CA certificate (PEM) to verify the NATS server; setting it turns TLS on.' }),
  tlsCertFile: optionalText('NATS_TLS_CERT_FILE', { unit: 'path', doc: 'Client certificate (PEM) for mutual TLS; needs NATS_TLS_KEY_FILE.' }),
  tlsKeyFile: optionalText('NATS_TLS_KEY_FILE', { unit: 'path', doc: 'Client private key (PEM) for mutual TLS.' }),
} satisfies SettingGroup

/** The queue topology: one source of truth that the ingress (streams) and worker (consumer) both apply. */
export const queueSettings = {
  stream: text('QUEUE_STREAM', {
    default: 'JOBS',
    pattern: NAME,
    hint: NAME_HINT,
    unit: 'name',
    doc: 'JetStream stream holding queued jobs (WorkQueue retention).',
  }),
  subjectPrefix: text('QUEUE_SUBJECT_PREFIX', {
    default: 'jobs',
    pattern: NAME,
    hint: NAME_HINT,
    unit: 'subject',
    doc: 'Jobs are published on `<prefix>.<job id>`; the stream takes `<prefix>.>`.',
  }),
  maxMessages: integer('QUEUE_MAX_MESSAGES', {
    default: 10_000,
    min: 1,
    doc: 'Queue capacity: jobs stored at once, in flight and max-delivered ones included. New jobs past it are refused (503).',
  }),
  maxBytes: integer('QUEUE_MAX_BYTES', {
    default: 256 * MIB,
    min: 1 * KIB,
    unit: 'bytes',
    doc: 'Queue capacity in bytes; whichever of this and QUEUE_MAX_MESSAGES is hit first refuses new jobs.',
  }),
  replicas: integer('QUEUE_REPLICAS', { default: 1, min: 1, max: 5, doc: 'Stream replicas (1, or 3 on a NATS cluster).' }),
  storage: oneOf('QUEUE_STORAGE', {
    default: 'file',
    values: ['file', 'memory'] as const,
    doc: 'Stream storage; `memory` loses queued jobs when NATS restarts.',
  }),
  duplicateWindowMs: integer('QUEUE_DUPLICATE_WINDOW_MS', {
    default: 120_000,
    min: 1000,
    unit: 'ms',
    doc: 'How long a job id (Idempotency-Key) is remembered for de-duplication.',
  }),
  jobMaxBytes: integer('JOB_MAX_BYTES', {
    default: 64 * KIB,
    min: 256,
    max: 8 * MIB,
    unit: 'bytes',
    doc: 'Largest accepted request body (and so job); larger is refused with 413.',
  }),
  jobMaxDepth: integer('JOB_MAX_DEPTH', {
    default: 32,
    min: 2,
    max: 1000,
    unit: 'levels',
    doc: 'Deepest nesting of arrays and objects accepted in a JSON body; deeper is refused with 400.',
  }),
  jobMaxDelayMs: integer('JOB_MAX_DELAY_MS', {
    default: 7 * 24 * 3600_000,
    min: 1000,
    unit: 'ms',
    doc: 'Longest a job may be scheduled ahead (`delayMs`, or `runAt` from now); further is refused with 400. A scheduled job holds its place in the queue while it waits.',
  }),
  consumer: text('QUEUE_CONSUMER', {
    default: 'workers',
    pattern: NAME,
    hint: NAME_HINT,
    unit: 'name',
    doc: 'Durable pull consumer shared by all workers; scheduled jobs have a second one, `<name>-scheduled`.',
  }),
  maxAckPending: integer('QUEUE_MAX_ACK_PENDING', { default: 256, min: 1, doc: 'Jobs handed to workers and not yet acknowledged, across all workers.' }),
  ackWaitMs: integer('QUEUE_ACK_WAIT_MS', {
    default: 30_000,
    min: 1000,
    unit: 'ms',
    doc: 'A job not acknowledged (nor heartbeated) within this is redelivered.',
  }),
  maxDeliver: integer('QUEUE_MAX_DELIVER', { default: 5, min: 1, max: 100, doc: 'Attempts per job; after the last failed one the job is dead-lettered.' }),
  retryBackoffMs: integerList('QUEUE_RETRY_BACKOFF_MS', {
    default: [1000, 5000, 15_000, 30_000],
    min: 0,
    unit: 'ms list',
    doc: 'Delay before retry n (the last value repeats).',
  }),
  deadLetterStream: text('QUEUE_DLQ_STREAM', {
    default: 'JOBS_DLQ',
    pattern: NAME,
    hint: NAME_HINT,
    unit: 'name',
    doc: 'Stream holding dead-lettered jobs with their error.',
  }),
  deadLetterSubjectPrefix: text('QUEUE_DLQ_SUBJECT_PREFIX', {
    default: 'jobs_dlq',
    pattern: NAME,
    hint: NAME_HINT,
    unit: 'subject',
    doc: 'Dead letters are published on `<prefix>.<job id>`.',
  }),
  deadLetterMaxMessages: integer('QUEUE_DLQ_MAX_MESSAGES', { default: 100_000, min: 1, doc: 'Dead letters kept; the oldest are dropped past it.' }),
  deadLetterMaxBytes: integer('QUEUE_DLQ_MAX_BYTES', {
    default: 1024 * MIB,
    min: 1 * KIB,
    unit: 'bytes',
    doc: 'Dead-letter stream size; the oldest are dropped past it.',
  }),
  deadLetterMaxAgeMs: integer('QUEUE_DLQ_MAX_AGE_MS', { default: 7 * 24 * 3600_000, min: 60_000, unit: 'ms', doc: 'How long dead letters are kept.' }),
  statusBucket: text('JOB_STATUS_BUCKET', {
    default: 'JOB_STATUS',
    pattern: NAME,
    hint: NAME_HINT,
    unit: 'name',
    doc: "Key-value bucket with each job's state for `GET /v1/jobs/<id>`.",
  }),
  statusTtlMs: integer('JOB_STATUS_TTL_MS', {
    default: 24 * 3600_000,
    min: 60_000,
    unit: 'ms',
    doc: "How long a job's state stays readable after its last change.",
  }),
  statusMaxBytes: integer('JOB_STATUS_MAX_BYTES', {
    default: 128 * MIB,
    min: 64 * KIB,
    unit: 'bytes',
    doc: 'Size bound of the job-state bucket; the oldest states are dropped past it.',
  }),
  jobTypesFile: optionalText('JOB_TYPES_FILE', {
    unit: 'path',
    doc: 'JSON file of the job types handled, each with an optional JSON Schema for its payload (docs/your-own-jobs.md). Set: the ingress refuses other types and payloads that break their schema (400), and workers check payloads too. Unset: any type is queued.',
  }),
  callbackAllowedUrls: text('JOB_CALLBACK_ALLOWED_URLS', {
    default: '',
    pattern: /^(https?:\/\/[^\s,]+(,https?:\/\/[^\s,]+)*)?$/,
    hint: 'a comma-separated list of http:// or https:// URL prefixes',
    unit: 'url prefix list',
    doc: "Job callbacks: the URL prefixes a job's `callbackUrl` may start with (`https://hooks.example.com/sluice/`, comma-separated); others are refused with 400. Empty: callbacks are off and `callbackUrl` is refused.",
  }),
  callbackSigningSecret: optionalText('JOB_CALLBACK_SIGNING_SECRET', {
    secret: true,
    doc: 'Job callbacks: when set, each carries `Sluice-Timestamp` and `Sluice-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, as HTTP push does.',
  }),
  callbackTimeoutMs: integer('JOB_CALLBACK_TIMEOUT_MS', {
    default: 10_000,
    min: 100,
    max: 120_000,
    unit: 'ms',
    doc: "Job callbacks: longest wait for one request's answer; then it counts as failed and is retried.",
  }),
  callbackAttempts: integer('JOB_CALLBACK_ATTEMPTS', {
    default: 5,
    min: 1,
    max: 20,
    doc: 'Job callbacks: requests per callback at most (a 5xx, 408, 429, no connection or no answer in time is retried); then it is given up.',
  }),
  callbackRetryBackoffMs: integerList('JOB_CALLBACK_RETRY_BACKOFF_MS', {
    default: [1000, 5000, 30_000, 60_000],
    min: 0,
    max: 600_000,
    unit: 'ms list',
    doc: 'Job callbacks: delay before retry n (the last value repeats).',
  }),
  callbackConcurrency: integer('JOB_CALLBACK_CONCURRENCY', {
    default: 16,
    min: 1,
    max: 1000,
    doc: 'Job callbacks: requests in flight at once per process (ingress or worker).',
  }),
  callbackMaxPending: integer('JOB_CALLBACK_MAX_PENDING', {
    default: 1000,
    min: 1,
    max: 100_000,
    doc: 'Job callbacks held per process (in flight, waiting for a request slot or for a retry); a callback past it is dropped, logged and counted.',
  }),
} satisfies SettingGroup

/** The HTTP front door. */
export const ingressSettings = {
  host: text('HOST', { default: '0.0.0.0', unit: 'address', doc: 'Address the ingress listens on.' }),
  port: integer('PORT', { default: 8080, min: 0, max: 65_535, unit: 'port', doc: 'Port the ingress listens on.' }),
  maxConnections: integer('INGRESS_MAX_CONNECTIONS', {
    default: 1024,
    min: 1,
    doc: 'Open client connections per ingress process; past it new connections are closed at once. With JOB_MAX_BYTES it bounds the memory request bodies can take.',
  }),
  maxConnectionsPerAddress: integer('INGRESS_MAX_CONNECTIONS_PER_ADDRESS', {
    default: 256,
    min: 1,
    doc: "Open client connections from one address; past it that address's new connections are closed at once, so one client cannot take every slot. Behind a proxy every client has the proxy's address: raise it to the proxy's upstream connections.",
  }),
  opsPort: integer('INGRESS_OPS_PORT', {
    default: 8083,
    min: 0,
    max: 65_535,
    unit: 'port',
    doc: "Port of the ingress's own `/healthz`, `/readyz` and `/metrics` (on HOST), apart from the API's connection slots so a flood cannot fail the probes (0 picks a free one).",
  }),
  headersTimeoutMs: integer('INGRESS_HEADERS_TIMEOUT_MS', {
    default: 5000,
    min: 500,
    max: 60_000,
    unit: 'ms',
    doc: "A connection must send a request's headers within this long (an idle new connection too); then it is closed.",
  }),
  requestTimeoutMs: integer('INGRESS_REQUEST_TIMEOUT_MS', {
    default: 30_000,
    min: 1000,
    max: 300_000,
    unit: 'ms',
    doc: 'A request must arrive whole (headers and body) within this long; then 408 and the connection closes.',
  }),
  keepAliveTimeoutMs: integer('INGRESS_KEEP_ALIVE_TIMEOUT_MS', {
    default: 5000,
    min: 100,
    max: 600_000,
    unit: 'ms',
    doc: "An idle kept-alive connection is closed after this long. Behind a load balancer, set it above the balancer's idle timeout so the balancer closes first.",
  }),
  maxInflight: integer('INGRESS_MAX_INFLIGHT', {
    default: 1024,
    min: 1,
    doc: "Publishes awaiting the server's acknowledgement per ingress process; past it, 503 at once.",
  }),
  publishTimeoutMs: integer('INGRESS_PUBLISH_TIMEOUT_MS', {
    default: 2000,
    min: 50,
    max: 60_000,
    unit: 'ms',
    doc: 'Longest wait for the server to confirm a job is stored; then 503.',
  }),
  retryAfterSeconds: integer('INGRESS_RETRY_AFTER_SECONDS', { default: 2, min: 1, max: 3600, unit: 's', doc: '`Retry-After` sent with 503 and 429 answers.' }),
  drainMs: integer('INGRESS_DRAIN_MS', { default: 10_000, min: 0, unit: 'ms', doc: 'On SIGTERM, longest wait for in-flight requests before exiting.' }),
  queueInfoCacheMs: integer('INGRESS_QUEUE_INFO_CACHE_MS', {
    default: 1000,
    min: 0,
    unit: 'ms',
    doc: 'How long `GET /v1/queue` and `/readyz` reuse one stream lookup.',
  }),
  auth: oneOf('INGRESS_AUTH', {
    default: 'none',
    values: ['none', 'api-key'] as const,
    doc: '`api-key`: the JSON API needs `Authorization: Bearer <key>` or `X-API-Key: <key>`.',
  }),
  apiKeysFile: optionalText('INGRESS_API_KEYS_FILE', {
    unit: 'path',
    doc: 'File of API keys, one per line: `<key>` or `<key> <scope,...>` (scopes: submit, read, admin; default submit,read). Re-read every 10 s, so a mounted Secret can rotate.',
  }),
  seedRoute: oneOf('INGRESS_SEED_ROUTE', {
    default: 'open',
    values: ['open', 'protected', 'off'] as const,
    doc: 'The seed route `GET|POST /?user_id=`: open, protected like the JSON API, or off (404).',
  }),
  rateLimitPerSecond: integer('INGRESS_RATE_LIMIT_PER_SECOND', {
    default: 0,
    min: 0,
    unit: 'req/s',
    doc: 'Requests per second per client (API key, else address); past it 429 with Retry-After. 0 turns it off.',
  }),
  rateLimitClients: integer('INGRESS_RATE_LIMIT_CLIENTS', {
    default: 10_000,
    min: 100,
    doc: 'Clients tracked by the rate limiter at once (least recently seen are forgotten).',
  }),
  trustProxy: text('INGRESS_TRUST_PROXY', {
    default: '',
    pattern: /^([0-9A-Fa-f:.]+(\/\d{1,3})?(,[0-9A-Fa-f:.]+(\/\d{1,3})?)*)?$/,
    hint: 'comma-separated addresses or CIDRs',
    unit: 'address list',
    doc: "Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client for the rate limit, failed authentications and logs; empty: the peer's own address, and X-Forwarded-For is ignored.",
  }),
  redriveRatePerSecond: integer('INGRESS_REDRIVE_RATE_PER_SECOND', {
    default: 50,
    min: 1,
    max: 10_000,
    unit: 'jobs/s',
    doc: 'Pace of a bulk redrive from the dead letters, so recovery does not flood the queue.',
  }),
  batchMaxJobs: integer('INGRESS_BATCH_MAX_JOBS', {
    default: 100,
    min: 1,
    max: 1000,
    unit: 'jobs',
    doc: 'Most jobs in one `POST /v1/jobs/batch`; more is refused with 400. The whole batch is one body, bounded by JOB_MAX_BYTES.',
  }),
  warmUpRequests: integer('INGRESS_WARMUP_REQUESTS', {
    default: 0,
    min: 0,
    max: 100_000,
    unit: 'requests',
    doc: 'Requests run through the accept path at start, before the ingress listens, with every publish diverted to a responder of its own (no job is stored), so a new pod does not answer its first seconds slowly (3000 measured best; about 0.5 s, at most 5 s). 0 turns it off: the default, so that local runs and tests start at once.',
  }),
  watchMaxConnections: integer('INGRESS_WATCH_MAX_CONNECTIONS', {
    default: 100,
    min: 1,
    max: 100_000,
    unit: 'streams',
    doc: 'Job event streams (`GET /v1/jobs/<id>/events`) open at once per ingress; past it 503 with Retry-After.',
  }),
  watchMaxMs: integer('INGRESS_WATCH_MAX_MS', {
    default: 300_000,
    min: 100,
    max: 3_600_000,
    unit: 'ms',
    doc: 'Longest a job event stream stays open; it then ends with a `timeout` event, and the client may reconnect.',
  }),
} satisfies SettingGroup

/** The job runner. */
export const workerSettings = {
  concurrency: integer('WORKER_CONCURRENCY', { default: 4, min: 1, max: 1000, doc: 'Jobs in progress at once per worker process.' }),
  drainMs: integer('WORKER_DRAIN_MS', {
    default: 25_000,
    min: 0,
    unit: 'ms',
    doc: 'On SIGTERM, longest wait for jobs in progress; the rest are handed back for redelivery.',
  }),
  host: text('WORKER_HOST', { default: '0.0.0.0', unit: 'address', doc: "Address of the worker's health and metrics port." }),
  port: integer('WORKER_PORT', { default: 8081, min: 0, max: 65_535, unit: 'port', doc: 'Worker health and metrics port (0 picks a free one).' }),
  jobDurationMs: integer('JOB_DURATION_MS', { default: 10_000, min: 0, unit: 'ms', doc: "How long the seed's `user` job works." }),
  handlersModule: optionalText('WORKER_HANDLERS_MODULE', {
    unit: 'path',
    doc: 'ES module (.ts or .js) whose default export lists the job handlers to run (see `defineHandler`, docs/your-own-jobs.md); unset: the built-in `user` and `noop`.',
  }),
  resultMaxBytes: integer('JOB_RESULT_MAX_BYTES', {
    default: 16 * KIB,
    min: 0,
    max: 512 * KIB,
    unit: 'bytes',
    doc: 'Largest result a handler may return (JSON, UTF-8), shown by `GET /v1/jobs/<id>`; a larger one fails the attempt.',
  }),
  httpUrl: text('WORKER_HTTP_URL', {
    default: '',
    pattern: /^(https?:\/\/[^\s,]+)?$/,
    hint: 'an http:// or https:// URL',
    unit: 'url',
    doc: 'HTTP push: job types without a handler of their own are POSTed here (docs/your-own-jobs.md); empty: they are dead-lettered.',
  }),
  httpTypeUrls: text('WORKER_HTTP_TYPE_URLS', {
    default: '',
    pattern: /^([A-Za-z0-9_.:-]{1,64}=https?:\/\/[^\s,]+(,[A-Za-z0-9_.:-]{1,64}=https?:\/\/[^\s,]+)*)?$/,
    hint: 'a comma-separated list of <job type>=<http(s) URL>',
    unit: 'type=url list',
    doc: 'HTTP push per job type: `<type>=<url>,...`; these types are POSTed to their own endpoint.',
  }),
  httpTimeoutMs: integer('WORKER_HTTP_TIMEOUT_MS', {
    default: 30_000,
    min: 100,
    max: 900_000,
    unit: 'ms',
    doc: "HTTP push: longest wait for an endpoint's answer (headers and body); then the attempt fails and is retried.",
  }),
  httpConcurrency: integer('WORKER_HTTP_CONCURRENCY', {
    default: 16,
    min: 1,
    max: 1000,
    doc: 'HTTP push: requests in flight at once to one endpoint, per worker process.',
  }),
  httpSigningSecret: optionalText('WORKER_HTTP_SIGNING_SECRET', {
    secret: true,
    doc: 'HTTP push: when set, each request carries `Sluice-Timestamp` and `Sluice-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.',
  }),
} satisfies SettingGroup

/**
 * The autoscaler. `kubernetes` mode reconciles QueueScaler resources (each carries its own scaling policy);
 * `local` mode scales worker processes on this machine with the AUTOSCALE_* policy below (`make dev`).
 */
export const autoscalerSettings = {
  mode: oneOf('AUTOSCALER_MODE', {
    default: 'kubernetes',
    values: ['kubernetes', 'local'] as const,
    doc: '`kubernetes`: reconcile QueueScaler resources; `local`: start and stop worker processes on this machine.',
  }),
  host: text('AUTOSCALER_HOST', { default: '0.0.0.0', unit: 'address', doc: "Address of the autoscaler's health and metrics port." }),
  port: integer('AUTOSCALER_PORT', { default: 8082, min: 0, max: 65_535, unit: 'port', doc: 'Autoscaler health and metrics port (0 picks a free one).' }),
  namespace: optionalText('AUTOSCALER_NAMESPACE', {
    unit: 'name',
    doc: "Namespace whose QueueScalers are watched and that holds the leader Lease; unset: the pod's own namespace.",
  }),
  leaseName: text('AUTOSCALER_LEASE_NAME', {
    default: 'sluice-autoscaler',
    pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
    hint: 'a DNS subdomain name',
    unit: 'name',
    doc: 'coordination.k8s.io Lease used for leader election.',
  }),
  identity: optionalText('AUTOSCALER_IDENTITY', { doc: "This replica's name in the Lease; unset: the host (pod) name plus a random suffix." }),
  leaseDurationSeconds: integer('AUTOSCALER_LEASE_DURATION_SECONDS', {
    default: 15,
    min: 2,
    max: 300,
    unit: 's',
    doc: 'How long followers wait after the last renewal before taking the lead.',
  }),
  renewDeadlineSeconds: integer('AUTOSCALER_RENEW_DEADLINE_SECONDS', {
    default: 10,
    min: 1,
    max: 300,
    unit: 's',
    doc: 'The leader stops writing when it could not renew for this long (less than the lease duration).',
  }),
  retryPeriodSeconds: integer('AUTOSCALER_RETRY_PERIOD_SECONDS', {
    default: 2,
    min: 1,
    max: 60,
    unit: 's',
    doc: 'Interval between tries to acquire or renew the Lease.',
  }),
  reconcileConcurrency: integer('AUTOSCALER_RECONCILE_CONCURRENCY', { default: 4, min: 1, max: 64, doc: 'QueueScalers reconciled at once.' }),
  shutdownMs: integer('AUTOSCALER_SHUTDOWN_MS', {
    default: 10_000,
    min: 0,
    unit: 'ms',
    doc: 'On SIGTERM, longest wait for reconciles in progress (and, locally, for workers to drain) before exiting.',
  }),
  minReplicas: integer('AUTOSCALE_MIN_REPLICAS', {
    default: 1,
    min: 0,
    max: 64,
    doc: 'Local mode: fewest worker processes (0 allowed: workers start when the backlog exceeds the activation backlog).',
  }),
  maxReplicas: integer('AUTOSCALE_MAX_REPLICAS', { default: 4, min: 1, max: 64, doc: 'Local mode: most worker processes.' }),
  targetBacklog: integer('AUTOSCALE_TARGET_BACKLOG', {
    default: 10,
    min: 1,
    doc: 'Local mode: jobs (pending + in flight) one worker should have; replicas = ceil(backlog / this).',
  }),
  activationBacklog: integer('AUTOSCALE_ACTIVATION_BACKLOG', { default: 0, min: 0, doc: 'Local mode: backlog above which workers start from zero.' }),
  pollIntervalMs: integer('AUTOSCALE_POLL_INTERVAL_MS', {
    default: 2000,
    min: 100,
    max: 600_000,
    unit: 'ms',
    doc: 'Local mode: how often the backlog is read.',
  }),
  scaleDownStabilizationSeconds: integer('AUTOSCALE_SCALE_DOWN_STABILIZATION_SECONDS', {
    default: 30,
    min: 0,
    max: 3600,
    unit: 's',
    doc: 'Local mode: scale down only to the highest recommendation of this window.',
  }),
  maxScaleDownStep: integer('AUTOSCALE_MAX_SCALE_DOWN_STEP', { default: 0, min: 0, doc: 'Local mode: most workers one scale-down stops (0: no cap).' }),
  firstWorkerPort: integer('AUTOSCALE_WORKER_FIRST_PORT', {
    default: 8091,
    min: 0,
    max: 65_535,
    unit: 'port',
    doc: 'Local mode: health port of worker 1; worker n gets this + n - 1 (0: each picks a free one).',
  }),
} satisfies SettingGroup

/** Shared by every process. */
export const logSettings = {
  level: oneOf('LOG_LEVEL', { default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, doc: 'Log level.' }),
} satisfies SettingGroup

/** Every setting group, for the docs table and the unknown-variable check. */
export const allSettingGroups = {
  nats: natsSettings,
  queue: queueSettings,
  ingress: ingressSettings,
  worker: workerSettings,
  autoscaler: autoscalerSettings,
  log: logSettings,
} as const

/** Prefixes that mark a variable as ours: an unknown name with one of them is a configuration error. */
export const settingPrefixes = ['QUEUE_', 'JOB_', 'INGRESS_', 'WORKER_', 'AUTOSCALE_', 'AUTOSCALER_'] as const
