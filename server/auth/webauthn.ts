import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'
import * as v from 'valibot'
import { HandoffError } from '../errors.js'
import { EXPIRY_GRACE_MS } from '../gate/index.js'
import { updateDevices, type DeviceRecord } from '../store/index.js'
import type { ChallengeStore } from './challenges.js'
import { pairedDeviceName } from './device-name.js'
import { AUTH_LIMITS } from './limits.js'
import { findPendingPairing, hasPairing, pairingCode, secretMatches, type PairingDevice } from './pairing.js'

/** What the ceremonies need: where devices live, who we are, the clock, and the sign-in challenges. */

// The verifier (with its ASN.1 and CBOR code) is about 20 MiB resident: load it
// when a phone first pairs or signs in, not with every server that idles.
const webauthnLibrary = () => import('@simplewebauthn/server')

export interface CeremonyConfig {
  home: string
  /** The WebAuthn relying-party id: the full MagicDNS name, or `localhost`. */
  rpID: string
  /** The one origin ceremonies may come from, e.g. `https://host.tailnet.ts.net:8443`. */
  origin: string
  now: () => number
  challenges: ChallengeStore
}

export const RP_NAME = 'Handoff'
/** ES256 and RS256: what phones' platform authenticators make. */
export const SUPPORTED_ALGORITHMS = [-7, -257]
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])

// ---- request shapes -------------------------------------------------------

const b64url = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(AUTH_LIMITS.webauthnFieldChars),
  v.regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url'),
)
const extensionResults = v.record(v.string(), v.unknown())

/** A `RegistrationResponseJSON` as @simplewebauthn/browser's startRegistration returns it. */
export const RegistrationResponseSchema = v.looseObject({
  id: b64url,
  rawId: b64url,
  type: v.literal('public-key'),
  response: v.looseObject({
    clientDataJSON: b64url,
    attestationObject: b64url,
    authenticatorData: v.optional(b64url),
    transports: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(32))), v.maxLength(16))),
    publicKeyAlgorithm: v.optional(v.number()),
    publicKey: v.optional(b64url),
  }),
  authenticatorAttachment: v.optional(v.picklist(['platform', 'cross-platform'])),
  clientExtensionResults: v.optional(extensionResults, {}),
})

/** An `AuthenticationResponseJSON` as @simplewebauthn/browser's startAuthentication returns it. */
export const AuthenticationResponseSchema = v.looseObject({
  id: b64url,
  rawId: b64url,
  type: v.literal('public-key'),
  response: v.looseObject({
    clientDataJSON: b64url,
    authenticatorData: b64url,
    signature: b64url,
    userHandle: v.optional(v.nullable(b64url)),
  }),
  authenticatorAttachment: v.optional(v.picklist(['platform', 'cross-platform'])),
  clientExtensionResults: v.optional(extensionResults, {}),
})

export type RegistrationResponseInput = v.InferOutput<typeof RegistrationResponseSchema>
export type AuthenticationResponseInput = v.InferOutput<typeof AuthenticationResponseSchema>

// ---- errors -----------------------------------------------------------------

// One answer for unknown, expired, used and cancelled links: the page cannot tell them apart, nor can anyone probing.
const pairingInvalid = (): HandoffError =>
  new HandoffError('PAIRING_INVALID', 404, 'this pairing link is unknown, expired or already used; run "handoff pair" on the machine for a new one')
const pairingBurned = (): HandoffError =>
  new HandoffError(
    'PAIRING_INVALID',
    404,
    'this pairing link was already used to create a passkey, so it has been cancelled (a link is good for one phone, once); run "handoff pair" again',
  )
const pairingFailed = (reason: string): HandoffError =>
  new HandoffError('PAIRING_FAILED', 400, `the passkey could not be registered: ${reason}; try again from the pairing page`)
const signInFailed = (reason: string): HandoffError => new HandoffError('SIGN_IN_FAILED', 401, `sign-in failed: ${reason}`)

// ---- helpers ----------------------------------------------------------------

interface ClientData {
  type: unknown
  challenge: string
  crossOrigin: unknown
}

/**
 * Decodes clientDataJSON ourselves (base64url → JSON), before the library
 * does, to take the challenge out of the store first and to refuse
 * `crossOrigin: true`, which the library only checks when `topOrigin` is present.
 */
export function decodeClientData(clientDataJSON: string): ClientData {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'))
  } catch {
    throw new HandoffError('BAD_REQUEST', 400, 'invalid request body: "response.response.clientDataJSON" is not base64url-encoded JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { challenge?: unknown }).challenge !== 'string') {
    throw new HandoffError('BAD_REQUEST', 400, 'invalid request body: "response.response.clientDataJSON" has no challenge')
  }
  const { type, challenge, crossOrigin } = parsed as { type: unknown; challenge: string; crossOrigin?: unknown }
  return { type, challenge, crossOrigin }
}

const toLibraryRegistration = (r: RegistrationResponseInput): RegistrationResponseJSON => ({
  id: r.id,
  rawId: r.rawId,
  type: r.type,
  response: { ...r.response },
  ...(r.authenticatorAttachment ? { authenticatorAttachment: r.authenticatorAttachment } : {}),
  clientExtensionResults: r.clientExtensionResults,
})

const toLibraryAuthentication = (r: AuthenticationResponseInput): AuthenticationResponseJSON => ({
  id: r.id,
  rawId: r.rawId,
  type: r.type,
  response: {
    clientDataJSON: r.response.clientDataJSON,
    authenticatorData: r.response.authenticatorData,
    signature: r.response.signature,
    ...(r.response.userHandle ? { userHandle: r.response.userHandle } : {}),
  },
  ...(r.authenticatorAttachment ? { authenticatorAttachment: r.authenticatorAttachment } : {}),
  clientExtensionResults: r.clientExtensionResults,
})

/** The WebAuthn user handle of a device: the UTF-8 bytes of its id. */
export const userIdOf = (deviceId: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(deviceId)
const userHandleOf = (deviceId: string): string => Buffer.from(deviceId, 'utf8').toString('base64url')

const withPairingChange = (devices: DeviceRecord[], id: string, change: (d: PairingDevice) => DeviceRecord): DeviceRecord[] =>
  devices.map((d) => (d.id === id && hasPairing(d) ? change(d) : d))

// A registration attempt on a link that is past "waiting" means two phones (or one replaying): cancel the pairing.
const burn = (d: PairingDevice): DeviceRecord => ({
  ...d,
  generation: d.generation + 1,
  pairing: { ...d.pairing, state: 'burned', challenge: null },
})

/** Runs `fn` under the devices lock and returns its result along with writing its devices. */
async function transact<R>(home: string, fn: (devices: DeviceRecord[]) => Promise<[DeviceRecord[], R]> | [DeviceRecord[], R]): Promise<R> {
  let result!: R
  await updateDevices(home, async (devices) => {
    const [next, r] = await fn(devices)
    result = r
    return next
  })
  return result
}

// ---- pairing ------------------------------------------------------------------

/** What the pairing page shows before the passkey is made: the grant. PAIRING_INVALID for anything but a live link. */
export async function pairingGrant(
  cfg: CeremonyConfig,
  devices: readonly DeviceRecord[],
  secret: string,
): Promise<{ name: string; sessions: string; readOnly: boolean; expiresAt: number | null }> {
  const d = findPendingPairing(devices, secret, cfg.now())
  if (!d || d.pairing.state === 'burned') throw pairingInvalid()
  return { name: d.name, sessions: d.sessions, readOnly: d.readOnly, expiresAt: d.expiresAt }
}

/**
 * Where a pairing stands, for the phone waiting on the code to be typed:
 * 'waiting' or 'registered' while the link is live, then 'confirmed' or
 * 'burned' (kept after the 5 minutes so a slow phone still learns the end).
 */
export function pairingStatus(devices: readonly DeviceRecord[], secret: string, now: number): NonNullable<DeviceRecord['pairing']>['state'] {
  let found: PairingDevice | undefined
  for (const d of devices) if (hasPairing(d) && secretMatches(d.pairing.secretHash, secret) && !found) found = d
  if (!found || found.status === 'revoked') throw pairingInvalid()
  const { state, expiresAt } = found.pairing
  if (state === 'confirmed' || state === 'burned') return state
  if (found.status !== 'pending' || now >= expiresAt) throw pairingInvalid()
  return state
}

/**
 * Registration options for the pending device behind `secret`, with a new
 * challenge kept in its pairing record (and for 60 s in the store). On a
 * link past 'waiting' the pairing is burned and PAIRING_INVALID thrown.
 */
export async function registrationOptions(cfg: CeremonyConfig, secret: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const now = cfg.now()
  const outcome = await transact(cfg.home, async (devices): Promise<[DeviceRecord[], PublicKeyCredentialCreationOptionsJSON | 'invalid' | 'burned']> => {
    const d = findPendingPairing(devices, secret, now)
    if (!d) return [devices, 'invalid']
    if (d.pairing.state !== 'waiting') return [withPairingChange(devices, d.id, burn), 'burned']
    const { generateRegistrationOptions } = await webauthnLibrary()
    const options = await generateRegistrationOptions({
      rpName: RP_NAME,
      rpID: cfg.rpID,
      userID: userIdOf(d.id),
      userName: d.name,
      userDisplayName: d.name,
      timeout: AUTH_LIMITS.challengeTtlMs,
      attestationType: 'none',
      excludeCredentials: [],
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    })
    cfg.challenges.add(options.challenge, 'register') // RATE_LIMITED here leaves devices.json untouched
    return [withPairingChange(devices, d.id, (p) => ({ ...p, pairing: { ...p.pairing, challenge: options.challenge } })), options]
  })
  if (outcome === 'invalid') throw pairingInvalid()
  if (outcome === 'burned') throw pairingBurned()
  return outcome
}

export interface RegistrationInput {
  secret: string
  response: RegistrationResponseInput
  /** The name the phone suggests; used only when `handoff pair` was given no `--name`. */
  deviceName?: string | undefined
  userAgent?: string | undefined
  /** The tailnet user and node the phone pairs from (tailscale whois); the device stays bound to that user. */
  tailnet?: { user: string | null; node: string | null } | undefined
}

/**
 * Verifies the passkey made for a pairing and stores it: the device stays
 * pending with pairing state 'registered' until the user types the code into
 * `handoff pair`. Returns that 6-digit code. The pairing's challenge is
 * taken (set to null) before anything is verified, so it serves one attempt;
 * a failed attempt leaves the link 'waiting' for a retry from new options.
 */
export async function verifyRegistration(cfg: CeremonyConfig, input: RegistrationInput): Promise<{ code: string; device: DeviceRecord }> {
  const { secret, response } = input
  const client = decodeClientData(response.response.clientDataJSON)
  const now = cfg.now()

  const taken = await transact(cfg.home, (devices): [DeviceRecord[], { id: string; challenge: string | null } | 'invalid' | 'burned'] => {
    const d = findPendingPairing(devices, secret, now)
    if (!d) return [devices, 'invalid']
    if (d.pairing.state !== 'waiting') return [withPairingChange(devices, d.id, burn), 'burned']
    return [withPairingChange(devices, d.id, (p) => ({ ...p, pairing: { ...p.pairing, challenge: null } })), { id: d.id, challenge: d.pairing.challenge }]
  })
  if (taken === 'invalid') throw pairingInvalid()
  if (taken === 'burned') throw pairingBurned()
  // The store enforces the 60 s and single use; the record ties the challenge to this pairing.
  const expected = taken.challenge
  if (expected === null || client.challenge !== expected || !cfg.challenges.consume(expected, 'register')) throw pairingFailed('the challenge is unknown, used or expired (over 60 s)')
  if (client.crossOrigin === true) throw pairingFailed('the passkey was created from inside another site (crossOrigin)')

  let verification
  try {
    const { verifyRegistrationResponse } = await webauthnLibrary()
    verification = await verifyRegistrationResponse({
      response: toLibraryRegistration(response),
      expectedChallenge: expected,
      expectedOrigin: cfg.origin,
      expectedRPID: cfg.rpID,
      requireUserVerification: true,
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    })
  } catch (err) {
    throw pairingFailed((err as Error).message.slice(0, 200))
  }
  if (!verification.verified) throw pairingFailed('the attestation did not verify')
  const info = verification.registrationInfo
  const credential = {
    id: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: (response.response.transports ?? []).filter((t) => TRANSPORTS.has(t)),
  }

  const later = cfg.now()
  const stored = await transact(cfg.home, (devices): [DeviceRecord[], DeviceRecord | 'invalid' | 'burned' | 'duplicate'] => {
    const d = findPendingPairing(devices, secret, later)
    if (!d || d.id !== taken.id) return [devices, 'invalid']
    if (d.pairing.state !== 'waiting') return [withPairingChange(devices, d.id, burn), 'burned']
    if (devices.some((o) => o.credential?.id === credential.id)) return [devices, 'duplicate']
    const next: DeviceRecord = {
      ...d,
      name: pairedDeviceName(d, input.deviceName, input.userAgent),
      credential,
      ...(input.tailnet?.user ? { tailnetUser: input.tailnet.user, tailnetNode: input.tailnet.node } : {}),
      generation: d.generation + 1,
      pairing: { ...d.pairing, state: 'registered', challenge: null },
    }
    return [devices.map((o) => (o.id === d.id ? next : o)), next]
  })
  if (stored === 'invalid') throw pairingInvalid()
  if (stored === 'burned') throw pairingBurned()
  if (stored === 'duplicate') throw pairingFailed('this passkey is already registered to another device')
  return { code: pairingCode(secret, credential.id, credential.publicKey), device: stored }
}

// ---- sign-in ------------------------------------------------------------------------

/** Sign-in options for a discoverable passkey (no allowCredentials), user verification required. */
export async function authenticationOptions(cfg: CeremonyConfig): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { generateAuthenticationOptions } = await webauthnLibrary()
  const options = await generateAuthenticationOptions({
    rpID: cfg.rpID,
    userVerification: 'required',
    timeout: AUTH_LIMITS.challengeTtlMs,
  })
  cfg.challenges.add(options.challenge, 'sign-in')
  return options
}

/**
 * Verifies a sign-in assertion and returns the device's updated record.
 * Beyond @simplewebauthn/server: the challenge is consumed from the store
 * first; `crossOrigin: true` is refused; the device is found by the
 * credential id and must be active, not suspect and not hard-expired;
 * `userHandle` must be the device's; the counter check runs only after the
 * signature verified (so a forged assertion cannot mark a device suspect),
 * under the devices lock, and a regression marks the device suspect.
 * Every refusal is SIGN_IN_FAILED (401) with the reason.
 */
export async function verifyAuthentication(cfg: CeremonyConfig, response: AuthenticationResponseInput, devices: readonly DeviceRecord[]): Promise<DeviceRecord> {
  const client = decodeClientData(response.response.clientDataJSON)
  if (!cfg.challenges.consume(client.challenge, 'sign-in')) {
    throw signInFailed('the challenge is unknown, already used or expired (over 60 s); start the sign-in again')
  }
  if (client.crossOrigin === true) throw signInFailed('the passkey was used from inside another site (crossOrigin)')

  const now = cfg.now()
  const device = devices.find((d) => d.credential !== null && d.credential.id === response.id)
  // Revoked, pending and unknown credentials get the same answer.
  if (!device || !device.credential || device.status !== 'active') throw signInFailed('this passkey is not registered with this machine; pair the phone again')
  if (device.suspect) {
    throw signInFailed('this device is blocked after its passkey counter went backwards (a cloned passkey?); remove it and pair again')
  }
  // A soft-expired device may still sign in: asking for renewal is the one thing it can do.
  if (device.expiresAt !== null && !(now < device.expiresAt + EXPIRY_GRACE_MS)) {
    throw signInFailed('this device expired more than 48 hours ago; on the machine run: handoff devices renew NAME')
  }
  if (response.response.userHandle !== userHandleOf(device.id)) throw signInFailed('the passkey belongs to another user handle')

  let verification
  try {
    const { verifyAuthenticationResponse } = await webauthnLibrary()
    verification = await verifyAuthenticationResponse({
      response: toLibraryAuthentication(response),
      expectedChallenge: client.challenge,
      expectedOrigin: cfg.origin,
      expectedRPID: cfg.rpID,
      // Counter 0 here turns the library's own counter check off: ours runs after the signature is known good.
      credential: { id: device.credential.id, publicKey: Uint8Array.from(Buffer.from(device.credential.publicKey, 'base64url')), counter: 0, transports: device.credential.transports },
      requireUserVerification: true,
    })
  } catch (err) {
    throw signInFailed((err as Error).message.slice(0, 200))
  }
  if (!verification.verified) throw signInFailed('the signature does not match the passkey')
  const newCounter = verification.authenticationInfo.newCounter

  const outcome = await transact(cfg.home, (current): [DeviceRecord[], DeviceRecord | 'gone' | 'regressed'] => {
    const d = current.find((o) => o.id === device.id)
    if (!d || d.status !== 'active' || d.suspect || d.credential?.id !== device.credential?.id || d.credential === null) return [current, 'gone']
    const old = d.credential.counter
    // Synced passkeys always report 0; an authenticator that counts must count up.
    if (old > 0 && newCounter <= old) {
      return [current.map((o) => (o.id === d.id ? { ...d, suspect: true, generation: d.generation + 1 } : o)), 'regressed']
    }
    const next: DeviceRecord = { ...d, credential: { ...d.credential, counter: newCounter }, lastSeenAt: now }
    return [current.map((o) => (o.id === d.id ? next : o)), next]
  })
  if (outcome === 'gone') throw signInFailed('this device was changed or removed during sign-in; try again')
  if (outcome === 'regressed') {
    throw signInFailed('the passkey counter went backwards, a sign of a cloned passkey; the device is now blocked: remove it and pair again')
  }
  return outcome
}
