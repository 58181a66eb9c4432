import { Annotation } from './queue-scaler.ts'

/** What the pause annotations ask for. */
export type PauseState =
  | { readonly kind: 'running' }
  /** Leave the replicas as they are. */
  | { readonly kind: 'paused'; readonly source: string }
  /** Set and hold `replicas`. */
  | { readonly kind: 'paused-replicas'; readonly replicas: number; readonly source: string }
  /** An annotation is present but unreadable: treated as paused, because doing nothing is the safe reading. */
  | { readonly kind: 'invalid'; readonly source: string; readonly message: string }

type Annotations = Record<string, string> | undefined

/**
 * Reads the pause annotations of the QueueScaler, then of its target (the first that says anything wins):
 * an operator may pause from either side, e.g. annotate the Deployment before a manual `kubectl scale`.
 */
export function pauseStateOf(scaler: Annotations, target: Annotations): PauseState {
  return readOne(scaler, 'QueueScaler') ?? readOne(target, 'Deployment') ?? { kind: 'running' }
}

function readOne(annotations: Annotations, source: string): PauseState | undefined {
  const replicas = annotations?.[Annotation.PausedReplicas]
  if (replicas !== undefined) {
    if (!/^\d{1,6}$/.test(replicas.trim())) {
      return { kind: 'invalid', source, message: `${Annotation.PausedReplicas} must be a whole number, got "${replicas}"` }
    }
    return { kind: 'paused-replicas', replicas: Number(replicas), source }
  }
  const paused = annotations?.[Annotation.Paused]
  if (paused === undefined) return undefined
  if (paused.trim().toLowerCase() === 'true') return { kind: 'paused', source }
  if (paused.trim().toLowerCase() === 'false') return undefined
  return { kind: 'invalid', source, message: `${Annotation.Paused} must be "true" or "false", got "${paused}"` }
}
