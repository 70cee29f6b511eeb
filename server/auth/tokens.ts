import { randomBytes } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'
import { AUTH_LIMITS } from './limits.js'

export const TOKEN_ISSUER = 'handoff'
const ALG = 'HS256'

export interface IssueTokenInput {
  deviceId: string
  /** The device record's generation when the token is issued; a later change to the device voids the token. */
  generation: number
  /** The origin the token is for, e.g. `https://host.tailnet.ts.net:8443`. */
  audience: string
  /** Lifetime in ms; default 12 hours. */
  ttlMs?: number
  now?: number
}

/** The claims of a token that verified. Times are seconds since the epoch, as in JWT. */
export interface TokenClaims {
  deviceId: string
  generation: number
  issuedAt: number
  expiresAt: number
  jti: string
}

/**
 * Signs a session token: HS256, `iss` handoff, `aud` the origin, `sub` the
 * device id, `gen` its generation, `iat`, `exp`, and a random `jti`. A token
 * only says who signed in; each request still checks the device's current
 * record (see authenticate in routes.ts).
 */
export async function issueToken(key: Uint8Array, input: IssueTokenInput): Promise<string> {
  const now = input.now ?? Date.now()
  const iat = Math.floor(now / 1000)
  const ttlSeconds = Math.ceil((input.ttlMs ?? AUTH_LIMITS.tokenTtlMs) / 1000)
  return new SignJWT({ gen: input.generation })
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(input.audience)
    .setSubject(input.deviceId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key)
}

/**
 * The claims of a valid token for `audience` at `now`, else null: a bad
 * signature, any algorithm but HS256 (`none` included), another issuer or
 * audience, an expired or not-yet-valid token, or a missing or mistyped
 * claim. Never throws for a bad token.
 */
export async function verifyToken(
  key: Uint8Array,
  token: string,
  options: { audience: string; now?: number },
): Promise<TokenClaims | null> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [ALG],
      issuer: TOKEN_ISSUER,
      audience: options.audience,
      currentDate: new Date(options.now ?? Date.now()),
      requiredClaims: ['sub', 'gen', 'iat', 'exp', 'jti'],
    })
    const { sub, gen, iat, exp, jti } = payload
    if (typeof sub !== 'string' || sub === '') return null
    if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 0) return null
    if (typeof iat !== 'number' || typeof exp !== 'number' || typeof jti !== 'string') return null
    // jose accepts a token issued in the future; a token from our own clock never is.
    if (iat * 1000 > (options.now ?? Date.now()) + 60_000) return null
    return { deviceId: sub, generation: gen, issuedAt: iat, expiresAt: exp, jti }
  } catch {
    return null
  }
}
