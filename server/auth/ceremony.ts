import { HandoffError } from '../errors.js'
import { EXPIRY_GRACE_MS } from '../gate/index.js'
import { updateDevices, type DeviceRecord } from '../store/index.js'
import type { ChallengeStore } from './challenges.js'
import { pairedDeviceName } from './device-name.js'
import { findPendingPairing, hasPairing, pairingCode, secretMatches, type PairingDevice } from './pairing.js'

/*
 * What pairing and sign-in do whatever the credential: a passkey
 * (webauthn.ts) or a native shell's device key (device-key.ts). Pairing:
 * a challenge kept in the pending device's record, taken once, the credential
 * stored with the device 'registered' until the code is typed on the machine.
 * Sign-in: the device found by its credential, checked, and its counter
 * recorded under the devices lock.
 */

/** What the ceremonies need: where devices live, who we are, the clock, and the sign-in challenges. */
export interface CeremonyConfig {
  home: string
  /** The WebAuthn relying-party id: the full MagicDNS name, or `localhost`. */
  rpID: string
  /** The one origin ceremonies may come from, e.g. `https://host.tailnet.ts.net:8443`. */
  origin: string
  now: () => number
  challenges: ChallengeStore
}

/** A credential as a device record keeps it. */
export type Credential = NonNullable<DeviceRecord['credential']>
/** What the user calls a credential kind in messages. */
export type CredentialNoun = 'passkey' | 'device key'

// ---- errors -----------------------------------------------------------------

// One answer for unknown, expired, used and cancelled links: the page cannot tell them apart, nor can anyone probing.
export const pairingInvalid = (): HandoffError =>
  new HandoffError('PAIRING_INVALID', 404, 'this pairing link is unknown, expired or already used; run "handoff pair" on the machine for a new one')
const pairingBurned = (noun: CredentialNoun): HandoffError =>
  new HandoffError(
    'PAIRING_INVALID',
    404,
    `this pairing link was already used to create a ${noun}, so it has been cancelled (a link is good for one phone, once); run "handoff pair" again`,
  )
export const pairingFailed = (noun: CredentialNoun, reason: string): HandoffError =>
  new HandoffError('PAIRING_FAILED', 400, `the ${noun} could not be registered: ${reason}; try again from the pairing page`)
export const signInFailed = (reason: string): HandoffError => new HandoffError('SIGN_IN_FAILED', 401, `sign-in failed: ${reason}`)

// ---- the devices file ---------------------------------------------------------

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

/** What the pairing page shows before the credential is made: the grant. PAIRING_INVALID for anything but a live link. */
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
 * Starts a registration for the pending device behind `secret`: `make`
 * returns a new challenge (and what to answer), which is kept in the pairing
 * record and for 60 s in the store. On a link past 'waiting' the pairing is
 * burned and PAIRING_INVALID thrown.
 */
export async function beginPairing<T>(
  cfg: CeremonyConfig,
  secret: string,
  noun: CredentialNoun,
  make: (d: PairingDevice) => Promise<{ challenge: string; answer: T }>,
): Promise<T> {
  const now = cfg.now()
  const outcome = await transact(cfg.home, async (devices): Promise<[DeviceRecord[], { answer: T } | 'invalid' | 'burned']> => {
    const d = findPendingPairing(devices, secret, now)
    if (!d) return [devices, 'invalid']
    if (d.pairing.state !== 'waiting') return [withPairingChange(devices, d.id, burn), 'burned']
    const { challenge, answer } = await make(d)
    cfg.challenges.add(challenge, 'register') // RATE_LIMITED here leaves devices.json untouched
    return [withPairingChange(devices, d.id, (p) => ({ ...p, pairing: { ...p.pairing, challenge } })), { answer }]
  })
  if (outcome === 'invalid') throw pairingInvalid()
  if (outcome === 'burned') throw pairingBurned(noun)
  return outcome.answer
}

/**
 * Takes the pairing's outstanding challenge before anything is verified, so
 * it serves one attempt (a failed attempt leaves the link 'waiting' for a
 * retry from a new challenge), and checks that `presented` is it, unused and
 * under 60 s old. Returns the pending device's id and the challenge.
 */
export async function takePairingChallenge(cfg: CeremonyConfig, secret: string, presented: string, noun: CredentialNoun): Promise<{ id: string; challenge: string }> {
  const now = cfg.now()
  const taken = await transact(cfg.home, (devices): [DeviceRecord[], { id: string; challenge: string | null } | 'invalid' | 'burned'] => {
    const d = findPendingPairing(devices, secret, now)
    if (!d) return [devices, 'invalid']
    if (d.pairing.state !== 'waiting') return [withPairingChange(devices, d.id, burn), 'burned']
    return [withPairingChange(devices, d.id, (p) => ({ ...p, pairing: { ...p.pairing, challenge: null } })), { id: d.id, challenge: d.pairing.challenge }]
  })
  if (taken === 'invalid') throw pairingInvalid()
  if (taken === 'burned') throw pairingBurned(noun)
  // The store enforces the 60 s and single use; the record ties the challenge to this pairing.
  const expected = taken.challenge
  if (expected === null || presented !== expected || !cfg.challenges.consume(expected, 'register')) throw pairingFailed(noun, 'the challenge is unknown, used or expired (over 60 s)')
  return { id: taken.id, challenge: expected }
}

export interface PairedCredential {
  secret: string
  /** The pending device whose challenge was taken. */
  deviceId: string
  credential: Credential
  /** The name the phone suggests; used only when `handoff pair` was given no `--name`. */
  deviceName?: string | undefined
  userAgent?: string | undefined
  /** The tailnet user and node the phone pairs from (tailscale whois); the device stays bound to that user. */
  tailnet?: { user: string | null; node: string | null } | undefined
}

/**
 * Stores a verified credential on its pending device, which stays pending
 * with pairing state 'registered' until the user types the code into
 * `handoff pair`. Returns that 6-digit code.
 */
export async function storePairedCredential(cfg: CeremonyConfig, input: PairedCredential, noun: CredentialNoun): Promise<{ code: string; device: DeviceRecord }> {
  const { secret, credential } = input
  const later = cfg.now()
  const stored = await transact(cfg.home, (devices): [DeviceRecord[], DeviceRecord | 'invalid' | 'burned' | 'duplicate'] => {
    const d = findPendingPairing(devices, secret, later)
    if (!d || d.id !== input.deviceId) return [devices, 'invalid']
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
  if (stored === 'burned') throw pairingBurned(noun)
  if (stored === 'duplicate') throw pairingFailed(noun, `this ${noun} is already registered to another device`)
  return { code: pairingCode(secret, credential.id, credential.publicKey), device: stored }
}

// ---- sign-in ------------------------------------------------------------------------

/** A device with the credential it signs in with. */
export type SignInDevice = DeviceRecord & { credential: Credential }

/**
 * The device whose credential of this kind has this id, if it may sign in at
 * `now`: active, not suspect, not expired past the 48-hour grace (a
 * soft-expired device may still sign in: asking for renewal is the one thing
 * it can do). Every refusal is SIGN_IN_FAILED with the reason.
 */
export function signInDevice(devices: readonly DeviceRecord[], kind: 'passkey' | 'device-key', credentialId: string, now: number): SignInDevice {
  const noun: CredentialNoun = kind === 'passkey' ? 'passkey' : 'device key'
  const device = devices.find((d) => d.credential !== null && d.credential.id === credentialId && (d.credential.kind ?? 'passkey') === kind)
  // Revoked, pending and unknown credentials get the same answer.
  if (!device || !device.credential || device.status !== 'active') throw signInFailed(`this ${noun} is not registered with this machine; pair the phone again`)
  if (device.suspect) {
    throw signInFailed(`this device is blocked after its ${noun} counter went backwards (a cloned ${noun}?); remove it and pair again`)
  }
  if (device.expiresAt !== null && !(now < device.expiresAt + EXPIRY_GRACE_MS)) {
    throw signInFailed('this device expired more than 48 hours ago; on the machine run: handoff devices renew NAME')
  }
  return device as SignInDevice
}

/**
 * Records a sign-in whose signature verified: under the devices lock, a
 * counter that does not rise (where the credential counts: a stored 0 means
 * it does not, as synced passkeys) marks the device suspect, since only a
 * copy of the credential could sign with an older count. Returns the updated
 * record.
 */
export async function recordSignIn(cfg: CeremonyConfig, device: SignInDevice, newCounter: number, noun: CredentialNoun): Promise<DeviceRecord> {
  const now = cfg.now()
  const outcome = await transact(cfg.home, (current): [DeviceRecord[], DeviceRecord | 'gone' | 'regressed'] => {
    const d = current.find((o) => o.id === device.id)
    if (!d || d.status !== 'active' || d.suspect || d.credential === null || d.credential.id !== device.credential.id) return [current, 'gone']
    const old = d.credential.counter
    if (old > 0 && newCounter <= old) {
      return [current.map((o) => (o.id === d.id ? { ...d, suspect: true, generation: d.generation + 1 } : o)), 'regressed']
    }
    const next: DeviceRecord = { ...d, credential: { ...d.credential, counter: newCounter }, lastSeenAt: now }
    return [current.map((o) => (o.id === d.id ? next : o)), next]
  })
  if (outcome === 'gone') throw signInFailed('this device was changed or removed during sign-in; try again')
  if (outcome === 'regressed') {
    throw signInFailed(`the ${noun} counter went backwards, a sign of a cloned ${noun}; the device is now blocked: remove it and pair again`)
  }
  return outcome
}
