import { randomBytes } from 'node:crypto'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { issueToken, verifyToken } from './tokens.js'

const key = new Uint8Array(randomBytes(32))
const aud = 'https://box.tail1234.ts.net:8443'
const now = 1_800_000_000_000
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
const claims = (over: Record<string, unknown> = {}) => ({
  iss: 'handoff',
  aud,
  sub: 'device-1',
  gen: 3,
  iat: now / 1000,
  exp: now / 1000 + 3600,
  jti: 'j',
  ...over,
})
const sign = (payload: Record<string, unknown>, alg = 'HS256', k: Uint8Array = key) =>
  new SignJWT(payload).setProtectedHeader({ alg }).sign(k)

describe('issueToken and verifyToken', () => {
  it('round-trip the device id and generation, with iss, aud, iat, exp and jti', async () => {
    const token = await issueToken(key, { deviceId: 'device-1', generation: 3, audience: aud, now })
    const c = await verifyToken(key, token, { audience: aud, now })
    expect(c).toMatchObject({ deviceId: 'device-1', generation: 3, issuedAt: now / 1000, expiresAt: now / 1000 + 12 * 3600 })
    const [header, payload] = token.split('.')
    expect(JSON.parse(Buffer.from(header ?? '', 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' })
    expect(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString())).toMatchObject({ iss: 'handoff', aud, sub: 'device-1', gen: 3 })
    const again = await issueToken(key, { deviceId: 'device-1', generation: 3, audience: aud, now })
    expect((await verifyToken(key, again, { audience: aud, now }))?.jti).not.toBe(c?.jti)
  })

  it('refuses a token signed with another key (forged signature)', async () => {
    const token = await issueToken(new Uint8Array(randomBytes(32)), { deviceId: 'd', generation: 0, audience: aud, now })
    expect(await verifyToken(key, token, { audience: aud, now })).toBeNull()
  })

  it('refuses a token whose payload was changed after signing', async () => {
    const [h, , s] = (await issueToken(key, { deviceId: 'd', generation: 0, audience: aud, now })).split('.')
    const tampered = `${h}.${b64(claims({ sub: 'someone-else', gen: 0 }))}.${s}`
    expect(await verifyToken(key, tampered, { audience: aud, now })).toBeNull()
  })

  it('refuses alg none, and any HMAC but HS256 even with the right key', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`
    expect(await verifyToken(key, none, { audience: aud, now })).toBeNull()
    const noneUpper = `${b64({ alg: 'NONE' })}.${b64(claims())}.`
    expect(await verifyToken(key, noneUpper, { audience: aud, now })).toBeNull()
    expect(await verifyToken(key, await sign(claims(), 'HS512', new Uint8Array(randomBytes(64))), { audience: aud, now })).toBeNull()
    expect(await verifyToken(key, await sign(claims(), 'HS384'), { audience: aud, now })).toBeNull()
    expect(await verifyToken(key, await sign(claims()), { audience: aud, now })).not.toBeNull() // the control
  })

  it('refuses an expired token, and one issued in the future', async () => {
    const token = await issueToken(key, { deviceId: 'd', generation: 0, audience: aud, ttlMs: 60_000, now })
    expect(await verifyToken(key, token, { audience: aud, now: now + 59_000 })).not.toBeNull()
    expect(await verifyToken(key, token, { audience: aud, now: now + 60_000 })).toBeNull()
    expect(await verifyToken(key, await sign(claims({ iat: now / 1000 + 3600, exp: now / 1000 + 7200 })), { audience: aud, now })).toBeNull()
  })

  it('refuses another audience or issuer', async () => {
    const token = await issueToken(key, { deviceId: 'd', generation: 0, audience: aud, now })
    expect(await verifyToken(key, token, { audience: 'https://other.tail1234.ts.net:8443', now })).toBeNull()
    expect(await verifyToken(key, await sign(claims({ iss: 'someone' })), { audience: aud, now })).toBeNull()
  })

  it('refuses missing or mistyped claims', async () => {
    for (const bad of [{ gen: undefined }, { gen: '3' }, { gen: -1 }, { gen: 1.5 }, { sub: undefined }, { sub: '' }, { jti: undefined }, { exp: undefined }]) {
      expect(await verifyToken(key, await sign(claims(bad)), { audience: aud, now }), JSON.stringify(bad)).toBeNull()
    }
  })

  it('returns null for garbage, never throws', async () => {
    for (const junk of ['', 'a', 'a.b.c', '...', `${b64({ alg: 'HS256' })}.${'x'.repeat(10)}.y`]) {
      expect(await verifyToken(key, junk, { audience: aud, now })).toBeNull()
    }
  })
})

describe('tokens under any input (property)', () => {
  it('verifyToken says null for anything that is not a token it issued, never throws', async () => {
    const fc = (await import('fast-check')).default
    const { hostileString } = await import('../../tests/support/arbitraries.js')
    const jwtish = fc.tuple(hostileString(40), hostileString(40), hostileString(40)).map((parts) => parts.map((p) => Buffer.from(p).toString('base64url')).join('.'))
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileString(), jwtish), async (token) => {
        expect(await verifyToken(key, token, { audience: aud, now })).toBeNull()
      }),
      { numRuns: 200 },
    )
  })
})
