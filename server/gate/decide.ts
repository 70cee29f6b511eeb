import { matchesSession, type SessionPatterns } from './patterns.js'

/** Everything a device can ask for. Each request and WebSocket maps to exactly one. */
export type Action =
  | 'list'
  | 'windows'
  | 'attach'
  | 'input'
  | 'create-session'
  | 'create-window'
  | 'kill-session'
  | 'kill-window'
  | 'renew'
  | 'subscribe-events'

/**
 * What each action needs. `session`: whether a target session must be given
 * (`required`), may be given (`optional`: then it must be allowed), or must not be (`none`).
 * `writes`: changes tmux or types into it, so a read-only device is refused.
 */
const RULES: Readonly<Record<Action, { session: 'required' | 'optional' | 'none'; writes: boolean }>> = {
  list: { session: 'optional', writes: false },
  windows: { session: 'required', writes: false },
  attach: { session: 'required', writes: false }, // a read-only device attaches read-only
  input: { session: 'required', writes: true },
  'create-session': { session: 'required', writes: true }, // the session: the new name
  'create-window': { session: 'required', writes: true },
  'kill-session': { session: 'required', writes: true },
  'kill-window': { session: 'required', writes: true },
  renew: { session: 'none', writes: false }, // asks the owner; changes nothing by itself
  'subscribe-events': { session: 'optional', writes: false },
}

/** Every action, for callers that validate action names at runtime. */
export const ACTIONS: readonly Action[] = Object.freeze(Object.keys(RULES) as Action[])

/** After `expiresAt`, how long a device may still ask for renewal before it can do nothing: 48 hours, in ms. */
export const EXPIRY_GRACE_MS = 48 * 60 * 60 * 1000

/** What the gate needs of a device record. */
export interface Grant {
  id: string
  name: string
  status: 'pending' | 'active' | 'revoked'
  /** From parseSessionPatterns. */
  sessions: SessionPatterns
  readOnly: boolean
  /** ms since epoch; null = never. */
  expiresAt: number | null
}

/** One access to decide. */
export interface GateInput {
  device: Grant | undefined
  action: Action
  /** Exact name of the target session (for create-session, the new name); absent for list of all, renew, subscribe-events without a tab. */
  session?: string
}

/**
 * Why access was refused:
 * - `DEVICE_UNKNOWN`: no such device, or pending, or revoked (one answer for all three).
 * - `DEVICE_EXPIRED`: past `expiresAt`; only renew within the grace period.
 * - `READ_ONLY`: the device is read-only and the action types into or changes tmux.
 * - `SESSION_NOT_ALLOWED`: the target session is outside the device's patterns.
 * - `BAD_TARGET`: the caller gave no session where one is needed, an empty one, or one where none belongs.
 * - `BAD_ACTION`: the caller passed an action that does not exist.
 */
export type DenyCode = 'DEVICE_UNKNOWN' | 'DEVICE_EXPIRED' | 'READ_ONLY' | 'SESSION_NOT_ALLOWED' | 'BAD_TARGET' | 'BAD_ACTION'

/** The gate's answer. On `ok`, `readOnly` tells the caller to attach read-only and drop input. */
export type Verdict =
  | { ok: true; deviceId: string; readOnly: boolean }
  | { ok: false; code: DenyCode; reason: string }

/** Where a device stands at `now`; `unknown` covers missing, pending and revoked. */
export type DeviceState = 'active' | 'soft-expired' | 'hard-expired' | 'unknown'

// One text for missing, pending and revoked, so the answer cannot tell them apart.
const UNKNOWN_REASON = 'this device is not paired with this server; pair it again with: handoff pair'

/**
 * Where `grant` stands at `now` (ms since epoch). Pure.
 * Soft-expired from `expiresAt` (inclusive) for {@link EXPIRY_GRACE_MS}; hard-expired from
 * `expiresAt + EXPIRY_GRACE_MS` (inclusive) on. A non-finite `expiresAt` counts as hard-expired.
 */
export function deviceState(grant: Grant | undefined, now: number): DeviceState {
  // Only exactly 'active' passes: any other status, present or future, grants nothing.
  if (!grant || grant.status !== 'active') return 'unknown'
  const at = grant.expiresAt
  if (at === null) return 'active'
  // Written as positive tests so NaN (a corrupt record or clock) lands on hard-expired.
  if (!Number.isFinite(at)) return 'hard-expired'
  if (now < at) return 'active'
  if (now < at + EXPIRY_GRACE_MS) return 'soft-expired'
  return 'hard-expired'
}

const deny = (code: DenyCode, reason: string): Verdict => ({ ok: false, code, reason })

/**
 * Decides one access: allow (with the read-only flag), or deny with a code and a reason
 * safe to show the device. Pure: no I/O, no clock; pass `now` (ms since epoch).
 *
 * Checks run from what the caller knows least to most, so a reason never tells more than
 * the device may know: identity, then expiry, then the call's shape, then read-only,
 * then the session. An unknown or expired device learns nothing about sessions.
 */
export function decide(input: GateInput, now: number): Verdict {
  const { device, action, session } = input
  const state = deviceState(device, now)
  if (state === 'unknown' || !device) return deny('DEVICE_UNKNOWN', UNKNOWN_REASON)
  if (state === 'hard-expired') {
    return deny(
      'DEVICE_EXPIRED',
      'this device expired more than 48 hours ago and can no longer ask for renewal; on the machine run: handoff devices renew NAME',
    )
  }
  const rule = Object.hasOwn(RULES, action) ? RULES[action] : undefined
  if (!rule) return deny('BAD_ACTION', 'unknown action')
  if (state === 'soft-expired' && action !== 'renew') {
    return deny('DEVICE_EXPIRED', 'this device has expired; ask for renewal (the owner confirms with: handoff devices renew NAME)')
  }

  if (session !== undefined && (typeof session !== 'string' || session === '')) {
    return deny('BAD_TARGET', 'the target session name is empty or not text')
  }
  if (rule.session === 'required' && session === undefined) {
    return deny('BAD_TARGET', `${action} needs a target session`)
  }
  if (rule.session === 'none' && session !== undefined) {
    return deny('BAD_TARGET', `${action} takes no target session`)
  }

  // Anything but an explicit false is read-only: a malformed record fails closed.
  const readOnly = device.readOnly !== false
  if (readOnly && rule.writes) {
    return deny('READ_ONLY', `this device is read-only: ${action} types into or changes tmux`)
  }
  // The reason does not echo the name nor say whether the session exists: the gate does not know, and must not hint.
  if (session !== undefined && !matchesSession(device.sessions, session)) {
    return deny('SESSION_NOT_ALLOWED', "that session is not among this device's allowed sessions")
  }
  return { ok: true, deviceId: device.id, readOnly }
}

/**
 * The session names from `names` that `grant` may see, in the given order, for filtering
 * the answer to an allowed `list`. Empty unless the device is active (call {@link decide} first for expiry).
 */
export function visibleSessions(grant: Grant | undefined, names: readonly string[]): string[] {
  if (!grant || grant.status !== 'active') return []
  return names.filter((name) => matchesSession(grant.sessions, name))
}
