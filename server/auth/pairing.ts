import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { DeviceRecord } from '../store/index.js'
import { AUTH_LIMITS } from './limits.js'

/** A new pairing secret: 32 random bytes, base64url (43 characters). Never stored; only its hash is. */
export const newPairingSecret = (): string => randomBytes(AUTH_LIMITS.pairingSecretBytes).toString('base64url')

/** What devices.json keeps of a pairing secret: SHA-256 of its text, base64url. */
export const hashPairingSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('base64url')

/** True when `secret` hashes to `secretHash`; the comparison takes the same time wherever they differ. */
export function secretMatches(secretHash: string, secret: string): boolean {
  const want = Buffer.from(secretHash, 'utf8')
  const got = Buffer.from(hashPairingSecret(secret), 'utf8')
  // Lengths are public (a SHA-256 in base64url is always 43 characters).
  return want.length === got.length && timingSafeEqual(want, got)
}

const CODE_DOMAIN = 'handoff pairing code v1'

// Each field is its UTF-8 length (4 bytes, big-endian) then its bytes, so no two
// different (credentialId, publicKey) pairs can encode to the same message.
function field(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8')
  const len = Buffer.alloc(4)
  len.writeUInt32BE(bytes.length)
  return Buffer.concat([len, bytes])
}

/**
 * The 6-digit code the phone shows and the user types into `handoff pair`:
 * HMAC-SHA256 keyed by the pairing secret over the new credential's id and
 * public key (both base64url, as stored), first 4 bytes as a uint32 mod 10^6,
 * zero-padded. Only someone who holds the secret and sees the stored
 * credential can compute it; a different passkey gives a different code.
 * (The modulo bias of 2^32 mod 10^6 is below 0.03 %.)
 */
export function pairingCode(secret: string, credentialId: string, publicKey: string): string {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(field(CODE_DOMAIN))
    .update(field(credentialId))
    .update(field(publicKey))
    .digest()
  return String(mac.readUInt32BE(0) % 1_000_000).padStart(6, '0')
}

/** Compares two codes in constant time, whatever their lengths. */
export function codesEqual(a: string, b: string): boolean {
  // Hashing first gives equal-length inputs, so timingSafeEqual never throws and length leaks nothing.
  const ha = createHash('sha256').update(a, 'utf8').digest()
  const hb = createHash('sha256').update(b, 'utf8').digest()
  return timingSafeEqual(ha, hb)
}

/** A device record while a pairing is attached to it. */
export type PairingDevice = DeviceRecord & { pairing: NonNullable<DeviceRecord['pairing']> }

export const hasPairing = (d: DeviceRecord): d is PairingDevice => d.pairing !== null

/**
 * The pending device whose pairing secret is `secret` and whose link has not
 * expired at `now`, else undefined. Pure. Every device's hash is compared (in
 * constant time), so the time taken does not say which one matched.
 */
export function findPendingPairing(devices: readonly DeviceRecord[], secret: string, now: number): PairingDevice | undefined {
  let found: PairingDevice | undefined
  for (const d of devices) {
    if (hasPairing(d) && secretMatches(d.pairing.secretHash, secret) && !found) found = d
  }
  return found && found.status === 'pending' && now < found.pairing.expiresAt ? found : undefined
}
