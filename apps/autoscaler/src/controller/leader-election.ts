import { setTimeout as sleep } from 'node:timers/promises'
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node'
import { ConfigError, SluiceError } from '@sluice/core'
import type { Logger } from 'pino'

/** The API server did not answer a Lease request within the renew deadline: leadership is not assured. */
export class LeaseRequestTimeoutError extends SluiceError {
  static readonly code = 'SLUICE_LEASE_REQUEST_TIMEOUT'

  constructor(deadlineMs: number) {
    super(LeaseRequestTimeoutError.code, `the Lease request got no answer within the renew deadline (${deadlineMs} ms)`)
  }
}

/** Options of {@link LeaderElector}; the timing follows client-go's leaderelection package. */
export interface LeaderElectorOptions {
  readonly kubeConfig: KubeConfig
  readonly namespace: string
  /** Name of the coordination.k8s.io Lease. */
  readonly leaseName: string
  /** This candidate's name in `holderIdentity`; unique per replica. */
  readonly identity: string
  /** How long a Lease stays valid after its last renewal, in ms (stored in whole seconds). @default 15000 */
  readonly leaseDurationMs?: number
  /** A leader that could not renew for this long stops leading, in ms; less than the duration. @default 10000 */
  readonly renewDeadlineMs?: number
  /** Interval between acquire or renew attempts, in ms. @default 2000 */
  readonly retryPeriodMs?: number
  readonly logger: Logger
  /** Called when this candidate becomes leader. */
  readonly onStartedLeading: () => Promise<void> | void
  /** Called when it stops leading (lost the Lease, or closing), before the Lease is released. */
  readonly onStoppedLeading: () => Promise<void> | void
}

/**
 * Lease-based leader election (client-node 2.x has none): the leader renews `renewTime` every retry period
 * with an optimistic-concurrency update, followers take over once the Lease has not changed for its duration
 * (measured on their own clock, so skew between nodes does not matter), and `close()` releases the Lease so
 * a successor need not wait.
 */
export class LeaderElector {
  readonly #options: Required<Omit<LeaderElectorOptions, 'kubeConfig'>>
  readonly #leases: CoordinationV1Api
  readonly #abort = new AbortController()
  #leading = false
  #loop: Promise<void> | undefined
  #closing: Promise<void> | undefined
  // The last Lease record seen and when (our clock): expiry is judged from when it last changed.
  #observed: { record: string; at: number } | undefined

  constructor(options: LeaderElectorOptions) {
    this.#options = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000, ...options }
    if (this.#options.renewDeadlineMs >= this.#options.leaseDurationMs) throw new ConfigError(['renewDeadlineMs must be less than leaseDurationMs'])
    this.#leases = options.kubeConfig.makeApiClient(CoordinationV1Api)
  }

  /** Whether this candidate holds the Lease now. */
  isLeader(): boolean {
    return this.#leading
  }

  /** Starts campaigning in the background. */
  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => this.#options.logger.error({ err: error }, 'leader election stopped unexpectedly'))
  }

  /** Stops campaigning; a leader stops leading and releases the Lease. Idempotent; bounded by the renew deadline. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort()
      await this.#loop
      if (!this.#leading) return
      await this.#stepDown('closing')
      await this.#withDeadline(this.#release()).catch((error: unknown) => this.#options.logger.warn({ err: error }, 'could not release the Lease'))
    })()
    return this.#closing
  }

  async #run(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.#options
    let renewedAt = 0
    while (!this.#abort.signal.aborted) {
      const held = await this.#withDeadline(this.#tryAcquireOrRenew()).catch(() => false)
      if (this.#abort.signal.aborted) return
      if (held) {
        renewedAt = Date.now()
        if (!this.#leading) {
          this.#leading = true
          this.#options.logger.info({ lease: this.#options.leaseName, identity: this.#options.identity }, 'became leader')
          await this.#options.onStartedLeading()
        }
      } else if (this.#leading && Date.now() - renewedAt >= renewDeadlineMs) {
        await this.#stepDown('could not renew the Lease within the renew deadline')
      }
      // Jitter on followers only, so two candidates do not keep colliding.
      const wait = this.#leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * 0.2)
      await sleep(wait, undefined, { signal: this.#abort.signal }).catch(() => undefined)
    }
  }

  async #stepDown(why: string): Promise<void> {
    this.#leading = false
    this.#options.logger.warn({ lease: this.#options.leaseName, why }, 'stopped leading')
    try {
      await this.#options.onStoppedLeading()
    } catch (error) {
      this.#options.logger.error({ err: error }, 'onStoppedLeading failed')
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, leaseName: name, identity } = this.#options
    const now = new V1MicroTime(Date.now())
    const leaseDurationSeconds = Math.max(1, Math.ceil(this.#options.leaseDurationMs / 1000))
    let lease: V1Lease
    try {
      lease = await this.#leases.readNamespacedLease({ name, namespace })
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error
      await this.#leases.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        },
      })
      return true
    }
    const spec = lease.spec ?? {}
    const record = `${spec.holderIdentity}|${lease.metadata?.resourceVersion}`
    if (this.#observed?.record !== record) this.#observed = { record, at: Date.now() }
    const holder = spec.holderIdentity
    const validForMs = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000
    if (holder && holder !== identity && this.#observed.at + validForMs > Date.now()) return false
    const mine = holder === identity
    await this.#leases.replaceNamespacedLease({
      name,
      namespace,
      body: {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : now,
          renewTime: now,
          leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
        },
      },
    })
    return true
  }

  async #release(): Promise<void> {
    const { namespace, leaseName: name, identity } = this.#options
    const lease = await this.#leases.readNamespacedLease({ name, namespace })
    if (lease.spec?.holderIdentity !== identity) return
    // client-go's ReleaseOnCancel: an empty holder lets the next candidate take over at its next try.
    await this.#leases.replaceNamespacedLease({
      name,
      namespace,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()) } },
    })
    this.#options.logger.info({ lease: name }, 'released the Lease')
  }

  // A hung API server must not keep a leader believing it still leads past the renew deadline.
  async #withDeadline<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LeaseRequestTimeoutError(this.#options.renewDeadlineMs)), this.#options.renewDeadlineMs)
      timer.unref()
    })
    try {
      return await Promise.race([work, deadline])
    } finally {
      clearTimeout(timer)
    }
  }
}
