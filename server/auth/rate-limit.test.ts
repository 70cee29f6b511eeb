import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { HandoffError } from '../errors.js'
import { AUTH_LIMITS } from './limits.js'
import { rateLimit, RateLimiter } from './rate-limit.js'

const clock = () => {
  let t = 5_000_000
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

describe('RateLimiter', () => {
  it('allows a burst of 10, then one every 6 s (10 a minute)', () => {
    const c = clock()
    const r = new RateLimiter({ now: c.now })
    for (let i = 0; i < AUTH_LIMITS.rateBurst; i++) expect(r.take('100.64.0.2')).toEqual({ ok: true })
    expect(r.take('100.64.0.2')).toEqual({ ok: false, retryAfterMs: 6_000 })
    c.advance(5_999)
    expect(r.take('100.64.0.2').ok).toBe(false)
    c.advance(1)
    expect(r.take('100.64.0.2').ok).toBe(true)
    expect(r.take('100.64.0.2').ok).toBe(false)
  })

  it('keeps addresses apart', () => {
    const r = new RateLimiter({ now: clock().now })
    for (let i = 0; i < AUTH_LIMITS.rateBurst; i++) r.take('a')
    expect(r.take('a').ok).toBe(false)
    expect(r.take('b').ok).toBe(true)
  })

  it('refills no further than the burst', () => {
    const c = clock()
    const r = new RateLimiter({ now: c.now })
    r.take('a')
    c.advance(60 * 60_000)
    for (let i = 0; i < AUTH_LIMITS.rateBurst; i++) expect(r.take('a').ok).toBe(true)
    expect(r.take('a').ok).toBe(false)
  })

  it('tracks a bounded number of addresses, dropping idle ones first', () => {
    const c = clock()
    const r = new RateLimiter({ now: c.now, maxAddresses: 3 })
    for (let i = 0; i < AUTH_LIMITS.rateBurst; i++) r.take('busy')
    for (const a of ['x', 'y', 'z', 'w']) r.take(a)
    expect(r.size).toBeLessThanOrEqual(3)
    c.advance(60_000) // x..w refill; busy has refilled too by now, but is still the most recent drain
    for (const a of ['p', 'q', 'r', 's']) r.take(a)
    expect(r.size).toBeLessThanOrEqual(3)
  })

  it('refuses nonsense settings when created', () => {
    expect(() => new RateLimiter({ burst: 0 })).toThrow(HandoffError)
    expect(() => new RateLimiter({ perMinute: 0 })).toThrow(HandoffError)
  })
})

describe('rateLimit middleware', () => {
  it('answers 429 RATE_LIMITED with Retry-After in whole seconds', async () => {
    const c = clock()
    const app = new Hono()
    app.use(rateLimit(new RateLimiter({ now: c.now }), (ctx) => ctx.req.header('x-test-peer') ?? ''))
    app.post('/x', (ctx) => ctx.json({ ok: true }))
    app.onError((err, ctx) =>
      err instanceof HandoffError ? ctx.json({ error: { code: err.code, message: err.message } }, err.status) : ctx.json({}, 500),
    )
    const hit = () => app.request('/x', { method: 'POST', headers: { 'x-test-peer': '100.64.0.9' } })
    for (let i = 0; i < AUTH_LIMITS.rateBurst; i++) expect((await hit()).status).toBe(200)
    const res = await hit()
    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toBe('6')
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED')
  })
})
