import { describe, expect, it } from 'vitest'
import { devListenHosts } from '../../scripts/dev/listen-hosts.ts'

describe('dev listen hosts', () => {
  it('dev listen hosts - make dev listens on loopback unless HOST, WORKER_HOST or AUTOSCALER_HOST say otherwise', () => {
    expect(devListenHosts({})).toEqual({ HOST: '127.0.0.1', WORKER_HOST: '127.0.0.1', AUTOSCALER_HOST: '127.0.0.1' })
    expect(devListenHosts({ HOST: '0.0.0.0' })).toEqual({ HOST: '0.0.0.0', WORKER_HOST: '127.0.0.1', AUTOSCALER_HOST: '127.0.0.1' })
  })
})
