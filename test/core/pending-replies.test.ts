import { describe, expect, it } from 'vitest'
import { PendingReplies } from '../../packages/core/src/pending-replies.ts'

const noop = () => {}

describe('pending replies', () => {
  it('pending replies - tokens are handed out in order and each is taken once, in any order', () => {
    const replies = new PendingReplies<number>()
    const settled: number[] = []
    const tokens = [0, 1, 2].map((n) => replies.add((value) => settled.push(value + n), noop, 1000))
    expect(tokens).toEqual([0, 1, 2])
    replies.take(1)?.resolve(10)
    replies.take(0)?.resolve(10)
    expect(replies.take(1)).toBeUndefined()
    expect(replies.size).toBe(1)
    replies.take(2)?.resolve(10)
    expect(settled).toEqual([11, 10, 12])
    expect(replies.size).toBe(0)
  })

  it('pending replies - tokens never handed out, or unreadable, settle nothing', () => {
    const replies = new PendingReplies<number>()
    replies.add(noop, noop, 1000)
    for (const token of [-1, 1, 5000, Number.NaN, 0.5]) expect(replies.take(token)).toBeUndefined()
    expect(replies.size).toBe(1)
  })

  it('pending replies - expiry takes the waits past their deadline, oldest first, and stops at the first live one', () => {
    const replies = new PendingReplies<number>()
    const expired: number[] = []
    for (const deadline of [10, 20, 30, 40]) replies.add(noop, () => expired.push(deadline), deadline)
    replies.take(1)
    for (const wait of replies.expire(30)) wait.reject(new Error('late'))
    expect(expired).toEqual([10, 30])
    expect(replies.size).toBe(1)
    expect(replies.expire(39)).toEqual([])
    expect(replies.expire(40)).toHaveLength(1)
    expect(replies.size).toBe(0)
  })

  // The oldest open wait holds the ring's tail: when more are outstanding than the ring holds, it grows
  // rather than overwrite a wait still open, and a token from before the growth still finds its wait.
  it('pending replies - more waits than the ring holds, behind one old open wait, are all kept', () => {
    const replies = new PendingReplies<number>()
    const values = new Map<number, number>()
    const oldest = replies.add((value) => values.set(-1, value), noop, 1000)
    const tokens: number[] = []
    for (let n = 0; n < 5000; n++) {
      const token = replies.add((value) => values.set(n, value), noop, 1000)
      tokens.push(token)
      // Most answers come back at once, so the ring's live part is the old wait and what follows it.
      if (n % 10 !== 0) replies.take(token)?.resolve(n)
    }
    expect(replies.size).toBe(1 + 500)
    replies.take(oldest)?.resolve(7)
    for (let n = 0; n < 5000; n += 10) replies.take(tokens[n]!)?.resolve(n)
    expect(values.get(-1)).toBe(7)
    expect(values.size).toBe(5001)
    expect(replies.size).toBe(0)
  })
})
