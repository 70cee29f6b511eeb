import { HandoffError } from '../errors.js'
import { AUTH_LIMITS } from './limits.js'

/** What a challenge was issued for; one purpose's challenge never passes for another's. */
export type ChallengePurpose = 'register' | 'sign-in'

export interface ChallengeStoreOptions {
  /** How long a challenge stays valid, in ms. Default 60 s. */
  ttlMs?: number
  /** How many may be outstanding at once. Default 1000; one more is RATE_LIMITED. */
  max?: number
  now?: () => number
}

/**
 * Server-side WebAuthn challenges: each expires after 60 s and can be
 * consumed once. `consume` removes the challenge before anything is
 * verified, so two parallel submissions of one assertion cannot both pass.
 * Held in memory: a restart forgets them, which only makes a phone ask again.
 */
export class ChallengeStore {
  readonly #ttlMs: number
  readonly #max: number
  readonly #now: () => number
  // challenge → when it expires and what for; Map order is issue order, so expired ones are at the front.
  readonly #outstanding = new Map<string, { expiresAt: number; purpose: ChallengePurpose }>()

  constructor(options: ChallengeStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? AUTH_LIMITS.challengeTtlMs
    this.#max = options.max ?? AUTH_LIMITS.challengesMax
    this.#now = options.now ?? Date.now
  }

  /** Challenges not yet consumed nor expired. */
  get size(): number {
    this.#prune()
    return this.#outstanding.size
  }

  /** Remembers a freshly generated challenge. RATE_LIMITED (429) when `max` are already outstanding. */
  add(challenge: string, purpose: ChallengePurpose): void {
    this.#prune()
    if (this.#outstanding.size >= this.#max) {
      throw new HandoffError(
        'RATE_LIMITED',
        429,
        `too many sign-in or pairing attempts in progress (${this.#max} at once); try again in a minute`,
      )
    }
    this.#outstanding.set(challenge, { expiresAt: this.#now() + this.#ttlMs, purpose })
  }

  /**
   * True exactly once for a challenge that was added for `purpose` less than
   * `ttlMs` ago; the challenge is gone afterwards whatever the answer.
   */
  consume(challenge: string, purpose: ChallengePurpose): boolean {
    const entry = this.#outstanding.get(challenge)
    if (!entry) return false
    this.#outstanding.delete(challenge)
    return entry.purpose === purpose && this.#now() < entry.expiresAt
  }

  #prune(): void {
    const now = this.#now()
    for (const [challenge, { expiresAt }] of this.#outstanding) {
      if (now < expiresAt) break
      this.#outstanding.delete(challenge)
    }
  }
}
