import { allSettingGroups, ConfigError, exitBoundMs, exitBounds, loadAutoscalerConfig, loadIngressConfig, loadWorkerConfig, type Setting } from '@sluice/core'
import { describe, expect, it } from 'vitest'

function problemsOf(load: () => unknown): readonly string[] {
  try {
    load()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

describe('config', () => {
  it('config - defaults match the documented values', () => {
    const config = loadIngressConfig({})
    expect(config.queue).toMatchObject({
      stream: 'JOBS',
      subjectPrefix: 'jobs',
      maxMessages: 10_000,
      replicas: 1,
      duplicateWindowMs: 120_000,
      consumer: 'workers',
      deadLetterStream: 'JOBS_DLQ',
    })
    expect(config.ingress).toMatchObject({ port: 8080, publishTimeoutMs: 2000 })
    expect(loadWorkerConfig({}).worker).toMatchObject({ concurrency: 4, drainMs: 25_000, jobDurationMs: 10_000 })
  })

  it('config - parses every kind of value', () => {
    const config = loadWorkerConfig({ QUEUE_MAX_MESSAGES: '5', QUEUE_RETRY_BACKOFF_MS: '10, 20,30', QUEUE_STORAGE: 'memory', WORKER_CONCURRENCY: '2' })
    expect(config.queue.maxMessages).toBe(5)
    expect(config.queue.retryBackoffMs).toEqual([10, 20, 30])
    expect(config.queue.storage).toBe('memory')
    expect(config.worker.concurrency).toBe(2)
  })

  it('config - names every invalid value at once', () => {
    const problems = problemsOf(() => loadIngressConfig({ QUEUE_MAX_MESSAGES: '-1', PORT: 'eighty', QUEUE_STORAGE: 'disk', QUEUE_STREAM: 'has space' }))
    expect(problems).toHaveLength(4)
    expect(problems.join('\n')).toMatch(/QUEUE_MAX_MESSAGES must be between 1/)
    expect(problems.join('\n')).toMatch(/PORT must be a whole number/)
    expect(problems.join('\n')).toMatch(/QUEUE_STORAGE must be one of file, memory/)
    expect(problems.join('\n')).toMatch(/QUEUE_STREAM must be 1-64 characters/)
  })

  it('config - rejects an unknown variable with our prefix and suggests the right name', () => {
    const problems = problemsOf(() => loadIngressConfig({ QUEUE_MAX_MESAGES: '5', UNRELATED_VARIABLE: 'x' }))
    expect(problems).toEqual(['QUEUE_MAX_MESAGES is not a known setting (did you mean QUEUE_MAX_MESSAGES?)'])
  })

  it('config - the ingress accepts worker settings from a shared ConfigMap', () => {
    expect(() => loadIngressConfig({ WORKER_CONCURRENCY: '8', JOB_DURATION_MS: '5' })).not.toThrow()
  })

  it('config - rejects combinations that cannot work', () => {
    expect(problemsOf(() => loadWorkerConfig({ WORKER_CONCURRENCY: '10', QUEUE_MAX_ACK_PENDING: '5' }))[0]).toMatch(
      /WORKER_CONCURRENCY \(10\) exceeds QUEUE_MAX_ACK_PENDING \(5\)/,
    )
    expect(problemsOf(() => loadIngressConfig({ QUEUE_SUBJECT_PREFIX: 'same', QUEUE_DLQ_SUBJECT_PREFIX: 'same' }))[0]).toMatch(/must differ/)
    expect(problemsOf(() => loadIngressConfig({ NATS_TOKEN: 't', NATS_USER: 'u', NATS_PASSWORD: 'p' }))[0]).toMatch(/alternatives/)
    expect(problemsOf(() => loadIngressConfig({ NATS_USER: 'u' }))[0]).toMatch(/must be set together/)
  })

  // The chart's schema is generated from each setting's `schema`: it must say what `parse` accepts.
  it("config - every setting's schema states the bounds and words its parse accepts", () => {
    const accepts = (setting: Setting<unknown>, raw: string): boolean => {
      try {
        setting.parse(raw)
        return true
      } catch {
        return false
      }
    }
    for (const setting of Object.values(allSettingGroups).flatMap((group) => Object.values(group as Record<string, Setting<unknown>>))) {
      const schema = setting.schema
      const bounds = 'items' in schema ? schema.items : schema
      if ('minimum' in bounds && bounds.minimum !== undefined) {
        expect(accepts(setting, String(bounds.minimum)), `${setting.env} accepts its minimum`).toBe(true)
        expect(accepts(setting, String(bounds.minimum - 1)), `${setting.env} refuses below its minimum`).toBe(false)
      } else if ('type' in bounds && bounds.type === 'integer') {
        expect(accepts(setting, String(Number.MIN_SAFE_INTEGER)), `${setting.env} has no minimum`).toBe(true)
      }
      if ('maximum' in bounds && bounds.maximum !== undefined) {
        expect(accepts(setting, String(bounds.maximum)), `${setting.env} accepts its maximum`).toBe(true)
        expect(accepts(setting, String(bounds.maximum + 1)), `${setting.env} refuses above its maximum`).toBe(false)
      } else if ('type' in bounds && bounds.type === 'integer') {
        expect(accepts(setting, String(Number.MAX_SAFE_INTEGER)), `${setting.env} has no maximum`).toBe(true)
      }
      if ('enum' in schema) {
        for (const word of schema.enum) expect(accepts(setting, word), `${setting.env} accepts ${word}`).toBe(true)
        expect(accepts(setting, 'none-of-these'), `${setting.env} refuses other words`).toBe(false)
      }
      if ('pattern' in schema && schema.pattern !== undefined) {
        expect(accepts(setting, 'has space'), `${setting.env} refuses what its pattern refuses`).toBe(new RegExp(schema.pattern).test('has space'))
        expect(accepts(setting, String(setting.default)), `${setting.env} accepts its default`).toBe(true)
      }
    }
  })

  it("config - each app's exit bound adds up its settings in ms and its margin", () => {
    expect(exitBoundMs(exitBounds.ingress, loadIngressConfig({ INGRESS_DRAIN_MS: '1234' }))).toBe(1234)
    expect(exitBoundMs(exitBounds.worker, loadWorkerConfig({ WORKER_DRAIN_MS: '1000' }))).toBe(6000)
    expect(exitBoundMs(exitBounds.autoscaler, loadAutoscalerConfig({ AUTOSCALER_SHUTDOWN_MS: '1000', AUTOSCALER_RENEW_DEADLINE_SECONDS: '3' }))).toBe(6000)
  })
})
