import { redactUrlCredentials } from '@sluice/core'
import type { Logger } from 'pino'
import { BacklogReadError, type BacklogReading, type BacklogSource } from '../backlog/backlog-source.ts'
import { jetStreamBacklogSource } from '../backlog/jetstream-backlog-source.ts'
import { ReplicaDecider } from '../decision/replica-decider.ts'
import type { ScalingDecision } from '../decision/desired-replicas.ts'
import type { ScalingPolicy } from '../decision/scaling-policy.ts'
import type { AutoscalerMetrics } from '../metrics/autoscaler-metrics.ts'
import type { ConditionUpdate } from './conditions.ts'
import type { DeploymentScale, TargetState } from './deployment-scale.ts'
import { EventReason, type EventRecorder } from './event-recorder.ts'
import type { NatsConnection } from '@nats-io/nats-core'
import type { NatsConnections } from './nats-connections.ts'
import type { NatsCredentialsReader } from './nats-credentials.ts'
import { pauseStateOf, type PauseState } from './pause.ts'
import { pollIntervalMsOf, scalingPolicyOf, splitKey, type QueueScaler } from './queue-scaler.ts'
import { ReconcileError, type StatusWriter } from './status-writer.ts'
import { mayReceiveCredentials } from './credential-servers.ts'

/** What reconcile needs; the controller builds one per leadership term. */
export interface ReconcilerOptions {
  readonly logger: Logger
  readonly metrics: AutoscalerMetrics
  /** The informer's cache: reconcile reads the QueueScaler from it, never from a watch event. */
  readonly getScaler: (namespace: string, name: string) => QueueScaler | undefined
  readonly targets: DeploymentScale
  readonly events: EventRecorder
  readonly status: StatusWriter
  readonly connections: NatsConnections
  readonly credentials: NatsCredentialsReader
  /**
   * NATS servers a QueueScaler's Secrets may be sent to (the autoscaler's NATS_URL); a QueueScaler naming a
   * Secret with another URL is refused. @default any
   */
  readonly credentialServers?: string
  /** Writes happen only while this is true. */
  readonly isLeader: () => boolean
  /** @default Date.now */
  readonly now?: () => number
}

/** What the work queue should do after a successful reconcile. */
export interface ReconcileResult {
  /** Reconcile again after this long (the poll interval); undefined: only on the next change. */
  readonly requeueAfterMs: number | undefined
}

/**
 * `reconcile(key)`: reads the QueueScaler, its target and the backlog as they are now, decides, writes
 * the scale if it must, then the status. Safe to run again at any time; a failure throws a
 * {@link ReconcileError} (the caller requeues with backoff) after recording why, and never touches replicas.
 */
export class Reconciler {
  readonly #options: ReconcilerOptions
  readonly #now: () => number
  readonly #deciders = new Map<string, { uid: string; decider: ReplicaDecider }>()

  constructor(options: ReconcilerOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  /** Reconciles one `namespace/name`. */
  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key)
    const scaler = this.#options.getScaler(namespace, name)
    if (!scaler) {
      this.#forget(key)
      return { requeueAfterMs: undefined }
    }
    let policy: ScalingPolicy
    try {
      policy = scalingPolicyOf(scaler.spec)
    } catch (error) {
      // Waiting does not fix a bad spec; the next edit enqueues the key again.
      await this.#options.status.fail(scaler, EventReason.InvalidSpec, 'InvalidSpec', (error as Error).message)
      return { requeueAfterMs: undefined }
    }
    const target = await this.#readTarget(scaler, namespace)
    const pause = pauseStateOf(scaler.metadata?.annotations, target.annotations)
    const reading = await this.#readBacklog(scaler, key, namespace)
    const decider = this.#deciderFor(key, scaler)
    const now = this.#now()

    let desired: number
    let decision: ScalingDecision | undefined
    if (pause.kind === 'running') {
      decision = decider.decide(now, reading.backlog, target.replicas, policy)
      desired = decision.desired
    } else {
      desired = pause.kind === 'paused-replicas' ? pause.replicas : target.replicas
      // Remember what ran while paused, so resuming does not drop below it within the window.
      decider.observe(now, desired, policy)
    }

    let current = target.replicas
    let scaledAt: Date | undefined
    if (desired !== current && this.#options.isLeader()) {
      const targetName = scaler.spec.scaleTargetRef.name
      try {
        current = await this.#options.targets.scale(namespace, targetName, desired)
      } catch (error) {
        throw await this.#options.status.fail(
          scaler,
          EventReason.FailedRescale,
          'FailedRescale',
          `scaling Deployment ${targetName} to ${desired} failed: ${(error as Error).message}`,
          error,
        )
      }
      scaledAt = new Date(now)
      await this.#recordRescale(scaler, pause, target.replicas, current, reading)
    }
    this.#options.metrics.observe(key, { backlog: reading.backlog, desired, current })
    await this.#options.status.succeed(scaler, {
      reading,
      desired,
      current,
      readAt: new Date(now),
      scaledAt,
      conditions: conditionsFor(decision, pause, reading),
    })
    return { requeueAfterMs: pollIntervalMsOf(scaler.spec) }
  }

  /** Drops everything kept for a QueueScaler that no longer exists. */
  #forget(key: string): void {
    this.#deciders.delete(key)
    this.#options.connections.release(key)
    this.#options.metrics.forget(key)
    this.#options.status.forget(key)
  }

  async #readTarget(scaler: QueueScaler, namespace: string): Promise<TargetState> {
    const targetName = scaler.spec.scaleTargetRef.name
    try {
      return await this.#options.targets.read(namespace, targetName)
    } catch (error) {
      const code = (error as { code?: number }).code
      const reason = code === 404 ? 'ScaleTargetNotFound' : 'FailedGetScaleTarget'
      throw await this.#options.status.fail(
        scaler,
        EventReason.FailedGetScaleTarget,
        reason,
        `cannot read Deployment ${namespace}/${targetName}${code ? ` (HTTP ${code})` : ''}; replicas left as they are`,
        error,
      )
    }
  }

  async #readBacklog(scaler: QueueScaler, key: string, namespace: string): Promise<BacklogReading> {
    try {
      return await (await this.#sourceFor(scaler, key, namespace)).read()
    } catch (error) {
      const readError = error instanceof BacklogReadError ? error : undefined
      throw await this.#options.status.fail(
        scaler,
        EventReason.FailedGetBacklog,
        readError?.reason ?? 'NatsError',
        `${(error as Error).message}; replicas left as they are`,
        error,
      )
    }
  }

  async #sourceFor(scaler: QueueScaler, key: string, namespace: string): Promise<BacklogSource> {
    const { nats, stream, consumer } = scaler.spec
    if ((nats.credentialsSecretRef || nats.tlsSecretRef) && !mayReceiveCredentials(nats.url, this.#options.credentialServers)) {
      throw new BacklogReadError(
        'CredentialsNotAllowed',
        `spec.nats.url ${redactUrlCredentials(nats.url)} is not a server of the autoscaler's NATS_URL, so the Secrets it names are not sent there`,
      )
    }
    const credentials = await this.#options.credentials.read(namespace, { credentials: nats.credentialsSecretRef?.name, tls: nats.tlsSecretRef?.name })
    let nc: NatsConnection
    try {
      nc = await this.#options.connections.acquire(key, nats.url, credentials)
    } catch (error) {
      throw new BacklogReadError('NatsError', `cannot connect to ${nats.url}: ${(error as Error).message}`, { cause: error })
    }
    return jetStreamBacklogSource(nc, { stream, consumer })
  }

  #deciderFor(key: string, scaler: QueueScaler): ReplicaDecider {
    // A QueueScaler deleted and created again under the same name starts with an empty window.
    const uid = scaler.metadata?.uid ?? ''
    let entry = this.#deciders.get(key)
    if (!entry || entry.uid !== uid) {
      entry = { uid, decider: new ReplicaDecider() }
      this.#deciders.set(key, entry)
    }
    return entry.decider
  }

  async #recordRescale(scaler: QueueScaler, pause: PauseState, from: number, to: number, reading: BacklogReading): Promise<void> {
    const target = scaler.spec.scaleTargetRef.name
    const why =
      pause.kind === 'paused-replicas'
        ? `paused-replicas annotation on the ${pause.source}`
        : `backlog ${reading.backlog} (${reading.num_pending} pending, ${reading.num_ack_pending} in flight)`
    const reason = pause.kind === 'paused-replicas' ? EventReason.PausedReplicasSet : to > from ? EventReason.ScaledUp : EventReason.ScaledDown
    this.#options.logger.info({ scaler: `${scaler.metadata?.namespace}/${scaler.metadata?.name}`, from, to, backlog: reading.backlog }, 'rescaled')
    await this.#options.events.record(scaler, 'Normal', reason, `Deployment ${target} scaled from ${from} to ${to}: ${why}`)
  }
}

function conditionsFor(decision: ScalingDecision | undefined, pause: PauseState, reading: BacklogReading): ConditionUpdate[] {
  const conditions: ConditionUpdate[] = [
    { type: 'Ready', status: 'True', reason: 'BacklogRead', message: `backlog ${reading.backlog} read from the consumer` },
    pausedCondition(pause),
  ]
  if (decision) {
    conditions.push(
      decision.active
        ? { type: 'Active', status: 'True', reason: 'BacklogAboveActivation', message: `backlog ${reading.backlog} needs workers` }
        : { type: 'Active', status: 'False', reason: 'Idle', message: 'no backlog above the activation threshold' },
      decision.limitedBy
        ? {
            type: 'ScalingLimited',
            status: 'True',
            reason: decision.limitedBy,
            message: `the recommendation of ${decision.recommendation} replicas was limited by ${decision.limitedBy}`,
          }
        : { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange', message: 'the desired replicas follow the backlog' },
    )
  }
  return conditions
}

function pausedCondition(pause: PauseState): ConditionUpdate {
  switch (pause.kind) {
    case 'running':
      return { type: 'Paused', status: 'False', reason: 'NotPaused', message: 'replicas follow the backlog' }
    case 'paused':
      return { type: 'Paused', status: 'True', reason: 'PausedByAnnotation', message: `sluice.dev/paused on the ${pause.source}: replicas left as they are` }
    case 'paused-replicas':
      return {
        type: 'Paused',
        status: 'True',
        reason: 'PausedReplicas',
        message: `sluice.dev/paused-replicas on the ${pause.source}: holding ${pause.replicas}`,
      }
    case 'invalid':
      return { type: 'Paused', status: 'True', reason: 'InvalidPauseAnnotation', message: `${pause.message}; replicas left as they are` }
  }
}

export { ReconcileError }
