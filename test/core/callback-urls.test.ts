import { describe, expect, it } from 'vitest'
import { CallbackUrls, shownUrl } from '../../packages/core/src/callbacks/callback-urls.ts'
import { ConfigError } from '../../packages/core/src/errors.ts'

const ALLOWED = 'https://hooks.example.com/sluice/,http://10.0.0.5:8080'

describe('callback urls', () => {
  const urls = new CallbackUrls(ALLOWED)

  it('callback urls - prefixes are kept as a URL parser writes them; an empty setting turns callbacks off', () => {
    expect(urls.prefixes).toEqual(['https://hooks.example.com/sluice/', 'http://10.0.0.5:8080/'])
    expect(urls.enabled).toBe(true)
    const off = new CallbackUrls('')
    expect(off.enabled).toBe(false)
    expect(off.check('https://hooks.example.com/sluice/a').refused).toMatch(/callbacks are off/)
  })

  // Each case: a URL a client may send, and whether the ingress takes it (the worker checks the same way).
  it.each([
    ['under the prefix, with a query', 'https://hooks.example.com/sluice/orders/42?token=abc', true],
    ['the prefix itself', 'https://hooks.example.com/sluice/', true],
    ['any path of a host-only prefix', 'http://10.0.0.5:8080/anything#frag', true],
    ['outside the prefix path', 'https://hooks.example.com/admin', false],
    ['the prefix without its slash', 'https://hooks.example.com/sluice', false],
    ['a longer host that starts the same', 'https://hooks.example.com.evil.test/sluice/', false],
    ['another port', 'https://hooks.example.com:8443/sluice/', false],
    ['another scheme', 'http://hooks.example.com/sluice/', false],
    ['a dot segment climbing out', 'https://hooks.example.com/sluice/../admin', false],
    ['an encoded dot segment climbing out', 'https://hooks.example.com/sluice/%2e%2e/admin', false],
    ['a dot segment staying in', 'https://hooks.example.com/sluice/a/../b', true],
    ['credentials before the host', 'https://user:pw@hooks.example.com/sluice/', false],
    ['a space after the prefix', 'https://hooks.example.com/sluice/a b', false],
    ['a newline after the prefix', 'https://hooks.example.com/sluice/a\nb', false],
    ['non-ASCII after the prefix', 'https://hooks.example.com/sluice/é', false],
    ['a backslash after the prefix', 'https://hooks.example.com/sluice/a\\b', false],
    ['the host in capitals (not as a parser writes it)', 'https://HOOKS.example.com/sluice/', false],
    ['a relative URL', '/sluice/a', false],
    ['the cloud metadata endpoint', 'http://169.254.169.254/latest/meta-data/', false],
    ['2048 characters', `https://hooks.example.com/sluice/${'a'.repeat(2048 - 33)}`, true],
    ['2049 characters', `https://hooks.example.com/sluice/${'a'.repeat(2049 - 33)}`, false],
  ])('callback urls - %s: %s', (_case, url, allowed) => {
    const checked = urls.check(url)
    expect(checked.refused === undefined, checked.refused).toBe(allowed)
    if (allowed) expect(checked.url).toBe(url)
    // The OpenAPI document's pattern agrees, except on dot segments, which only parsing shows.
    if (!/%2e|\.\./.test(url)) expect(new RegExp(urls.pattern, 'u').test(url) && url.length <= 2048).toBe(allowed)
  })

  it.each([
    ['not a URL', 'https://[::1'],
    ['credentials', 'https://user:pw@hooks.example.com/'],
    ['a query', 'https://hooks.example.com/?a=b'],
    ['a fragment', 'https://hooks.example.com/#x'],
  ])('callback urls - an allowed URL with %s stops the start-up, naming the setting', (_case, entry) => {
    expect(() => new CallbackUrls(entry)).toThrow(ConfigError)
    expect(() => new CallbackUrls(entry)).toThrow(/JOB_CALLBACK_ALLOWED_URLS/)
  })

  it('callback urls - logs show a URL without credentials, query or fragment', () => {
    expect(shownUrl('https://u:p@hooks.example.com/sluice/a?token=secret#x')).toBe('https://hooks.example.com/sluice/a')
  })
})
