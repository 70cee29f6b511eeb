import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto'
import * as v from 'valibot'
import type { DeviceRecord } from '../store/index.js'
import {
  beginPairing,
  pairingFailed,
  recordSignIn,
  signInDevice,
  signInFailed,
  storePairedCredential,
  takePairingChallenge,
  type CeremonyConfig,
  type PairedCredential,
} from './ceremony.js'

/*
 * The native shells' credential (docs/native-shells.md). A passkey inside an
 * app's web view needs the app associated with the passkey's domain, which a
 * store app cannot be for each user's tailnet name; so the shell makes an
 * ECDSA P-256 key pair in the phone's hardware keystore (Android Keystore, iOS
 * Secure Enclave, each behind the user's biometrics) and signs with it:
 *
 *   pairing:  "handoff device-key pair v1\n" ORIGIN "\n" CHALLENGE
 *   sign-in:  "handoff device-key sign-in v1\n" ORIGIN "\n" CHALLENGE "\n" COUNTER
 *
 * Each message names its purpose and this server's origin, so a signature
 * made for one can serve neither the other nor another computer. Challenges
 * are the ones passkeys use: single use, 60 s. The shell counts its sign-ins
 * per computer; the count must rise, and a signature over an old count marks
 * the device suspect, as a passkey's counter does. Pairing goes through the
 * same link and the same 6-digit code typed on the computer. Signatures are
 * verified by node:crypto (OpenSSL), in either encoding the platforms give.
 */

const P256_SPKI_BYTES = 91 // an uncompressed P-256 point in its SubjectPublicKeyInfo
const b64url = (max: number) => v.pipe(v.string(), v.minLength(1), v.maxLength(max), v.regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding'))
const signature = b64url(200)
/** `p1363`: r‖s, 64 bytes, as WebCrypto and CryptoKit's rawRepresentation give it; `der`: X9.62, as Android's Signature and SecKeyCreateSignature give it. */
const signatureFormat = v.picklist(['p1363', 'der'])
const challenge = b64url(128)

export const DeviceKeyPairSchema = v.strictObject({
  /** SubjectPublicKeyInfo (DER) of the P-256 key, base64url. */
  publicKey: b64url(256),
  challenge,
  signature,
  signatureFormat,
})
export const DeviceKeySignInSchema = v.strictObject({
  /** The key's id: the SHA-256 of its SubjectPublicKeyInfo, base64url. */
  keyId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/, 'must be the 43-character key id')),
  challenge,
  /** The shell's sign-in count for this computer: rises by at least 1 each time. */
  counter: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER)),
  signature,
  signatureFormat,
})
export type DeviceKeyPairInput = v.InferOutput<typeof DeviceKeyPairSchema>
export type DeviceKeySignInInput = v.InferOutput<typeof DeviceKeySignInSchema>

export const pairMessage = (origin: string, challengeText: string): string => `handoff device-key pair v1\n${origin}\n${challengeText}`
export const signInMessage = (origin: string, challengeText: string, counter: number): string =>
  `handoff device-key sign-in v1\n${origin}\n${challengeText}\n${counter}`

/** A device key's id: the SHA-256 of its SubjectPublicKeyInfo, base64url. */
export const deviceKeyId = (spki: Buffer): string => createHash('sha256').update(spki).digest('base64url')

const newChallenge = (): string => randomBytes(32).toString('base64url')

/** The P-256 public key in `spki`, or undefined when it is not one. */
function importP256(spki: Buffer): KeyObject | undefined {
  if (spki.length !== P256_SPKI_BYTES) return undefined
  try {
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : undefined
  } catch {
    return undefined
  }
}

/** Whether `signatureText` (base64url, in `format`) is the key's ECDSA P-256 / SHA-256 signature of `message` (node:crypto, OpenSSL). */
function verifies(key: KeyObject, message: string, signatureText: string, format: 'p1363' | 'der'): boolean {
  const bytes = Buffer.from(signatureText, 'base64url')
  if (format === 'p1363' && bytes.length !== 64) return false
  try {
    return verify('sha256', Buffer.from(message, 'utf8'), { key, dsaEncoding: format === 'p1363' ? 'ieee-p1363' : 'der' }, bytes)
  } catch {
    return false
  }
}

/** A pairing challenge for the shell to sign, for the pending device behind `secret`. */
export function deviceKeyPairOptions(cfg: CeremonyConfig, secret: string): Promise<{ challenge: string; origin: string }> {
  return beginPairing(cfg, secret, 'device key', async () => {
    const c = newChallenge()
    return { challenge: c, answer: { challenge: c, origin: cfg.origin } }
  })
}

/**
 * Verifies the shell's new key for a pairing (its signature over the pairing
 * message proves it holds the key) and stores it: the device waits, as with a
 * passkey, for the code typed into `handoff pair`. Returns that code.
 */
export async function verifyDeviceKeyPairing(
  cfg: CeremonyConfig,
  input: Omit<PairedCredential, 'deviceId' | 'credential'> & { key: DeviceKeyPairInput },
): Promise<{ code: string; device: DeviceRecord }> {
  const { key } = input
  const taken = await takePairingChallenge(cfg, input.secret, key.challenge, 'device key')
  const spki = Buffer.from(key.publicKey, 'base64url')
  const publicKey = importP256(spki)
  if (!publicKey) throw pairingFailed('device key', 'the public key is not an ECDSA P-256 key (SubjectPublicKeyInfo, DER)')
  if (!verifies(publicKey, pairMessage(cfg.origin, taken.challenge), key.signature, key.signatureFormat)) {
    throw pairingFailed('device key', 'the signature does not match the key, this machine or this challenge')
  }
  const credential = { kind: 'device-key' as const, id: deviceKeyId(spki), publicKey: spki.toString('base64url'), counter: 0, transports: [] }
  return storePairedCredential(cfg, { ...input, deviceId: taken.id, credential }, 'device key')
}

/** A sign-in challenge for the shell to sign (single use, 60 s). */
export function deviceKeySignInOptions(cfg: CeremonyConfig): { challenge: string } {
  const c = newChallenge()
  cfg.challenges.add(c, 'sign-in')
  return { challenge: c }
}

/**
 * Verifies a device-key sign-in and returns the device's updated record: the
 * challenge consumed first, the device found by its key (active, not suspect,
 * not expired past the grace), the signature over this origin, challenge and
 * count verified, and only then the count checked to rise (an old count marks
 * the device suspect). Every refusal is SIGN_IN_FAILED with the reason.
 */
export async function verifyDeviceKeySignIn(cfg: CeremonyConfig, input: DeviceKeySignInInput, devices: readonly DeviceRecord[]): Promise<DeviceRecord> {
  if (!cfg.challenges.consume(input.challenge, 'sign-in')) {
    throw signInFailed('the challenge is unknown, already used or expired (over 60 s); start the sign-in again')
  }
  const device = signInDevice(devices, 'device-key', input.keyId, cfg.now())
  const publicKey = importP256(Buffer.from(device.credential.publicKey, 'base64url'))
  if (!publicKey || !verifies(publicKey, signInMessage(cfg.origin, input.challenge, input.counter), input.signature, input.signatureFormat)) {
    throw signInFailed('the signature does not match the device key, this machine or this challenge')
  }
  return recordSignIn(cfg, device, input.counter, 'device key')
}
