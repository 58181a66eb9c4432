import type { KubeConfig } from '@kubernetes/client-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { afterAll, afterEach, beforeAll } from 'vitest'
import type { ControlPlane } from '../../controlplane/control-plane.ts'
import type { NatsServerFixture } from '../../support/nats-server.ts'
import { closeOperators, startOperatorSuite, type OperatorSuite, type OperatorSuiteOptions, type TestOperator } from './kube-fixture.ts'

/** What {@link useOperatorSuite} gives a describe block. */
export interface OperatorSuiteHooks {
  readonly cp: ControlPlane
  /** The control plane's admin credentials. */
  readonly admin: KubeConfig
  readonly nats: NatsServerFixture
  /** The suite's own client of `nats`. */
  readonly nc: NatsConnection
  /** Push each operator a test starts here: it is closed after that test, even one that failed. */
  readonly operators: TestOperator[]
}

/**
 * Registers, in the calling describe block, the hooks every operator suite needs: {@link startOperatorSuite}
 * before its tests, the operators a test started closed after each one, the suite closed after all of them.
 *
 * `options` may be a function, for a suite that must make something (certificates) before the servers start;
 * it runs inside the same `beforeAll`, so nothing depends on the order of hooks.
 *
 * The servers exist only once `beforeAll` has run, so read `cp`, `admin`, `nats` and `nc` inside tests or
 * later hooks, never while the describe block is collected (no destructuring at its top level).
 */
export function useOperatorSuite(options: OperatorSuiteOptions | (() => Promise<OperatorSuiteOptions>) = {}): OperatorSuiteHooks {
  let suite: OperatorSuite | undefined
  const operators: TestOperator[] = []

  beforeAll(async () => {
    suite = await startOperatorSuite(typeof options === 'function' ? await options() : options)
  })
  afterEach(() => closeOperators(operators))
  afterAll(() => suite?.close())

  // A read before beforeAll would otherwise surface as "cannot read properties of undefined" far from its cause.
  const started = (field: string): OperatorSuite => {
    if (suite === undefined) throw new Error(`useOperatorSuite: ${field} was read before the suite's beforeAll started it; read it inside a test or hook`)
    return suite
  }
  return {
    get cp() {
      return started('cp').cp
    },
    get admin() {
      return started('admin').admin
    },
    get nats() {
      return started('nats').nats
    },
    get nc() {
      return started('nc').nc
    },
    operators,
  }
}
