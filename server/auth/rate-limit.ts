import type { Context, Env, MiddlewareHandler } from 'hono'
import { HandoffError } from '../errors.js'
import { AUTH_LIMITS } from './limits.js'

export interface RateLimitOptions {
  /** Requests allowed back to back. Default 5. */
  burst?: number
  /** Requests per minute after the burst, refilled continuously. Default 10. */
  perMinute?: number
  /** Addresses tracked at once; past it, full (idle) buckets are dropped first, then the oldest. Default 10 000. */
  maxAddresses?: number
  now?: () => number
}

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number }

/** A token bucket per peer address. Pure bookkeeping: the clock is injected. */
export class RateLimiter {
  readonly #burst: number
  readonly #perMs: number
  readonly #maxAddresses: number
  readonly #now: () => number
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(options: RateLimitOptions = {}) {
    this.#burst = options.burst ?? AUTH_LIMITS.rateBurst
    this.#perMs = (options.perMinute ?? AUTH_LIMITS.ratePerMinute) / 60_000
    this.#maxAddresses = options.maxAddresses ?? AUTH_LIMITS.rateAddressesMax
    this.#now = options.now ?? Date.now
    if (!(this.#burst >= 1 && this.#perMs > 0 && this.#maxAddresses >= 1)) {
      throw new HandoffError('BAD_CONFIG', 400, 'rate limit: burst, perMinute and maxAddresses must be positive')
    }
  }

  /** Takes one token for `address`, or says how long until one is there. */
  take(address: string): RateDecision {
    const now = this.#now()
    const prev = this.#buckets.get(address)
    const tokens = prev ? Math.min(this.#burst, prev.tokens + Math.max(0, now - prev.at) * this.#perMs) : this.#burst
    if (tokens < 1) {
      this.#buckets.set(address, { tokens, at: now })
      return { ok: false, retryAfterMs: Math.ceil((1 - tokens) / this.#perMs) }
    }
    this.#buckets.delete(address) // re-inserted at the end: Map order becomes least recently used first
    this.#buckets.set(address, { tokens: tokens - 1, at: now })
    if (this.#buckets.size > this.#maxAddresses) this.#evict(now)
    return { ok: true }
  }

  /** Addresses currently tracked. */
  get size(): number {
    return this.#buckets.size
  }

  #evict(now: number): void {
    // A bucket that has refilled is the same as no bucket: forgetting it changes nothing.
    for (const [address, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(address)
    }
    for (const address of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxAddresses) break
      this.#buckets.delete(address)
    }
  }
}

/**
 * Refuses a request with 429 RATE_LIMITED and `Retry-After` (whole seconds)
 * when its peer has no token left. `peerKey` must come from the socket (its
 * address, its whois node), never from a header a client could set.
 */
export const rateLimit = <E extends Env = Env>(limiter: RateLimiter, peerKey: (c: Context<E>) => string): MiddlewareHandler<E> =>
  async function rateLimit(c, next) {
    const decision = limiter.take(peerKey(c))
    if (!decision.ok) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000))
      c.header('Retry-After', String(seconds))
      throw new HandoffError('RATE_LIMITED', 429, `too many pairing or sign-in attempts from this device or address; try again in ${seconds} s`)
    }
    await next()
  }
