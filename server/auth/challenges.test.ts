import { describe, expect, it } from 'vitest'
import { isHandoffError } from '../errors.js'
import { ChallengeStore } from './challenges.js'
import { AUTH_LIMITS } from './limits.js'

const clock = (start = 1_000_000) => {
  let t = start
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

describe('ChallengeStore', () => {
  it('accepts a challenge once', () => {
    const s = new ChallengeStore()
    s.add('c1', 'sign-in')
    expect(s.consume('c1', 'sign-in')).toBe(true)
    expect(s.consume('c1', 'sign-in')).toBe(false)
    expect(s.consume('never-issued', 'sign-in')).toBe(false)
  })

  it('expires a challenge at 60 s', () => {
    const c = clock()
    const s = new ChallengeStore({ now: c.now })
    s.add('early', 'sign-in')
    s.add('late', 'sign-in')
    c.advance(AUTH_LIMITS.challengeTtlMs - 1)
    expect(s.consume('early', 'sign-in')).toBe(true)
    c.advance(1)
    expect(s.consume('late', 'sign-in')).toBe(false)
  })

  it('does not take a challenge issued for the other ceremony, and burns it', () => {
    const s = new ChallengeStore()
    s.add('c', 'register')
    expect(s.consume('c', 'sign-in')).toBe(false)
    expect(s.consume('c', 'register')).toBe(false)
  })

  it('lets exactly one of many parallel submissions through', async () => {
    const s = new ChallengeStore()
    s.add('c', 'sign-in')
    const results = await Promise.all(Array.from({ length: 20 }, async () => s.consume('c', 'sign-in')))
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  it('holds at most 1000 outstanding; one more is RATE_LIMITED until some expire', () => {
    const c = clock()
    const s = new ChallengeStore({ now: c.now })
    for (let i = 0; i < AUTH_LIMITS.challengesMax; i++) s.add(`c${i}`, 'sign-in')
    expect(s.size).toBe(1_000)
    let thrown: unknown
    try {
      s.add('one-more', 'sign-in')
    } catch (err) {
      thrown = err
    }
    expect(isHandoffError(thrown, 'RATE_LIMITED')).toBe(true)
    expect((thrown as { status: number }).status).toBe(429)
    expect(s.consume('c0', 'sign-in')).toBe(true) // consuming frees a place
    s.add('now-fits', 'sign-in')
    c.advance(AUTH_LIMITS.challengeTtlMs)
    expect(s.size).toBe(0)
    s.add('after-expiry', 'sign-in')
    expect(s.size).toBe(1)
  })
})
