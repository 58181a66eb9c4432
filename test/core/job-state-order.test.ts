import { supersedes, type JobState, type JobStatus } from '@sluice/core'
import { describe, expect, it } from 'vitest'

const T1 = '2026-01-01T00:00:00.000Z'
const T2 = '2026-01-01T00:00:05.000Z'

function status(state: JobState, attempts: number, queuedAt = T1, updatedAt = queuedAt): JobStatus {
  return { id: 'job', type: 'user', state, attempts, queuedAt, updatedAt }
}

describe('job state order', () => {
  it.each([
    // One attempt runs forward.
    ['running after queued', status('running', 1), status('queued', 0), true],
    ['succeeded after running', status('succeeded', 1), status('running', 1), true],
    ['failed after running', status('failed', 1), status('running', 1), true],
    // The next attempt follows a failure.
    ['running of attempt 2 after attempt 1 failed', status('running', 2), status('failed', 1), true],
    // A late copy of attempt 1 must not overwrite attempt 2.
    ['running of attempt 1 after attempt 2 runs', status('running', 1), status('running', 2), false],
    ['failed of attempt 1 after attempt 2 failed', status('failed', 1), status('failed', 2), false],
    // A progress report is a later `running` of the same attempt; an older one arriving late is not.
    ['a later progress report', status('running', 1, T1, T2), status('running', 1, T1, T1), true],
    ['an earlier progress report', status('running', 1, T1, T1), status('running', 1, T1, T2), false],
    // Within an attempt its start never follows its end.
    ['running after failed, same attempt', status('running', 1), status('failed', 1), false],
    // Success and dead-lettering end a submission, whatever a copy writes later.
    ['running after succeeded', status('running', 2), status('succeeded', 1), false],
    ['failed after succeeded', status('failed', 3), status('succeeded', 2), false],
    ['succeeded after succeeded', status('succeeded', 1), status('succeeded', 2), false],
    ['running after dead', status('running', 4), status('dead', 3), false],
    // A cancel ends a submission too, and replaces any unfinished state, even one a worker moved on to
    // after the ingress read the state it cancelled.
    ['cancelled after queued', status('cancelled', 0), status('queued', 0), true],
    ['cancelled after a later attempt runs', status('cancelled', 1), status('running', 2), true],
    ['cancelled after failed', status('cancelled', 2), status('failed', 2), true],
    ['running after cancelled', status('running', 2), status('cancelled', 1), false],
    ['succeeded after cancelled', status('succeeded', 1), status('cancelled', 1), false],
    ['cancelled after succeeded', status('cancelled', 1), status('succeeded', 1), false],
    ['cancelled after dead', status('cancelled', 3), status('dead', 3), false],
    ['a new submission after cancelled', status('queued', 0, T2), status('cancelled', 1, T1), true],
    // A new submission of the id (a redrive, or a resubmission after the duplicate window) starts over...
    ['running of a redriven job after its dead state', status('running', 1, T2), status('dead', 3, T1), true],
    // ... and a copy of the old submission cannot touch it.
    ['old submission after a new one', status('succeeded', 3, T1), status('queued', 0, T2), false],
  ])('job state order - %s', (_name, next, current, expected) => {
    expect(supersedes(next, current)).toBe(expected)
  })
})
