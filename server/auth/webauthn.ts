import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'
import * as v from 'valibot'
import { HandoffError } from '../errors.js'
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
import { AUTH_LIMITS } from './limits.js'

// The verifier (with its ASN.1 and CBOR code) is about 20 MiB resident: load it
// when a phone first pairs or signs in, not with every server that idles.
const webauthnLibrary = () => import('@simplewebauthn/server')

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

// ---- pairing ------------------------------------------------------------------

/**
 * Registration options for the pending device behind `secret`, with a new
 * challenge kept in its pairing record (and for 60 s in the store). On a
 * link past 'waiting' the pairing is burned and PAIRING_INVALID thrown.
 */
export async function registrationOptions(cfg: CeremonyConfig, secret: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return beginPairing(cfg, secret, 'passkey', async (d) => {
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
    return { challenge: options.challenge, answer: options }
  })
}

export type RegistrationInput = Omit<PairedCredential, 'deviceId' | 'credential'> & { response: RegistrationResponseInput }

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
  const taken = await takePairingChallenge(cfg, secret, client.challenge, 'passkey')
  if (client.crossOrigin === true) throw pairingFailed('passkey', 'the passkey was created from inside another site (crossOrigin)')

  let verification
  try {
    const { verifyRegistrationResponse } = await webauthnLibrary()
    verification = await verifyRegistrationResponse({
      response: toLibraryRegistration(response),
      expectedChallenge: taken.challenge,
      expectedOrigin: cfg.origin,
      expectedRPID: cfg.rpID,
      requireUserVerification: true,
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    })
  } catch (err) {
    throw pairingFailed('passkey', (err as Error).message.slice(0, 200))
  }
  if (!verification.verified) throw pairingFailed('passkey', 'the attestation did not verify')
  const info = verification.registrationInfo
  const credential = {
    id: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: (response.response.transports ?? []).filter((t) => TRANSPORTS.has(t)),
  }
  return storePairedCredential(cfg, { ...input, deviceId: taken.id, credential }, 'passkey')
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

  const device = signInDevice(devices, 'passkey', response.id, cfg.now())
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
  return recordSignIn(cfg, device, verification.authenticationInfo.newCounter, 'passkey')
}
