import { describe, expect, it } from 'vitest'
import type { DeviceRecord } from '../store/index.js'
import { codesEqual, findPendingPairing, hashPairingSecret, newPairingSecret, pairingCode, secretMatches } from './pairing.js'

const pending = (secret: string, overrides: Partial<DeviceRecord> = {}): DeviceRecord => ({
  id: 'AAAAAAAAAAAAAAAAAAAAAA',
  name: 'New device',
  status: 'pending',
  sessions: '*',
  readOnly: false,
  createdAt: 0,
  expiresAt: null,
  lastSeenAt: null,
  renewalRequestedAt: null,
  credential: null,
  tailnetUser: null,
  tailnetNode: null,
  generation: 0,
  suspect: false,
  pairing: { secretHash: hashPairingSecret(secret), expiresAt: 1_000, state: 'waiting', challenge: null },
  ...overrides,
})

describe('pairing secrets', () => {
  it('are 32 random bytes in base64url, different each time', () => {
    const a = newPairingSecret()
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Buffer.from(a, 'base64url')).toHaveLength(32)
    expect(new Set(Array.from({ length: 50 }, newPairingSecret)).size).toBe(50)
  })

  it('hash to a fixed SHA-256 base64url that never contains the secret', () => {
    const s = newPairingSecret()
    expect(hashPairingSecret(s)).toBe(hashPairingSecret(s))
    expect(hashPairingSecret(s)).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(hashPairingSecret(s)).not.toContain(s)
    expect(hashPairingSecret('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0')
    expect(hashPairingSecret(`${s}x`)).not.toBe(hashPairingSecret(s))
  })

  it('match only their own hash', () => {
    const s = newPairingSecret()
    expect(secretMatches(hashPairingSecret(s), s)).toBe(true)
    expect(secretMatches(hashPairingSecret(s), newPairingSecret())).toBe(false)
    expect(secretMatches('short', s)).toBe(false)
  })

  it('find a pending device only while its link is live', () => {
    const s = newPairingSecret()
    const d = pending(s)
    expect(findPendingPairing([d], s, 999)?.id).toBe(d.id)
    expect(findPendingPairing([d], s, 1_000)).toBeUndefined() // expired at expiresAt
    expect(findPendingPairing([d], newPairingSecret(), 0)).toBeUndefined()
    expect(findPendingPairing([{ ...d, status: 'active' }], s, 0)).toBeUndefined()
    expect(findPendingPairing([{ ...d, pairing: null }], s, 0)).toBeUndefined()
  })
})

describe('pairingCode', () => {
  const secret = 'q3t0m1HkzvZ0pJ9n2f4l8xY6cV5bA7sD1gH3jK5lM0o'

  it('is deterministic and six decimal digits', () => {
    const code = pairingCode(secret, 'credA', 'keyA')
    expect(code).toMatch(/^\d{6}$/)
    expect(pairingCode(secret, 'credA', 'keyA')).toBe(code)
  })

  it('changes with the secret, the credential id and the public key', () => {
    const base = pairingCode(secret, 'credA', 'keyA')
    expect(pairingCode(`${secret.slice(0, -1)}p`, 'credA', 'keyA')).not.toBe(base)
    expect(pairingCode(secret, 'credB', 'keyA')).not.toBe(base)
    expect(pairingCode(secret, 'credA', 'keyB')).not.toBe(base)
  })

  it('encodes its inputs unambiguously: moving characters between fields changes the code', () => {
    expect(pairingCode(secret, 'ab', 'c')).not.toBe(pairingCode(secret, 'a', 'bc'))
    expect(pairingCode(secret, '', 'abc')).not.toBe(pairingCode(secret, 'abc', ''))
  })

  it('keeps leading zeros and spreads over the whole range', () => {
    const codes = Array.from({ length: 2_000 }, (_, i) => pairingCode(secret, `cred${i}`, 'key'))
    expect(codes.every((c) => /^\d{6}$/.test(c))).toBe(true)
    expect(codes.some((c) => c.startsWith('0'))).toBe(true)
    expect(new Set(codes).size).toBeGreaterThan(1_990)
  })
})

describe('codesEqual', () => {
  it('compares whole strings, whatever their lengths', () => {
    expect(codesEqual('012345', '012345')).toBe(true)
    expect(codesEqual('012345', '012346')).toBe(false)
    expect(codesEqual('012345', '12345')).toBe(false)
    expect(codesEqual('', '012345')).toBe(false)
    expect(codesEqual('', '')).toBe(true)
  })
})
