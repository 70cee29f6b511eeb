import { HandoffError } from '../errors.js'
import { decide, parseSessionPatterns, type Action, type Grant, type Verdict } from '../gate/index.js'
import type { Peer } from '../net/serving.js'
import { appendAudit, type DeviceRecord } from '../store/index.js'

export type { Peer }

export type Allowed = Extract<Verdict, { ok: true }>

/** The gate's view of a stored device; a record whose patterns no longer parse grants nothing. */
export function grantOf(device: DeviceRecord | null): Grant | undefined {
  if (!device) return undefined
  try {
    const sessions = parseSessionPatterns(device.sessions)
    return { id: device.id, name: device.name, status: device.status, sessions, readOnly: device.readOnly, expiresAt: device.expiresAt }
  } catch {
    return undefined
  }
}

const DENY_STATUS = { DEVICE_UNKNOWN: 401, DEVICE_EXPIRED: 403, READ_ONLY: 403, SESSION_NOT_ALLOWED: 403, BAD_TARGET: 400, BAD_ACTION: 400 } as const

/** How a peer is named in the audit log. */
export const auditPeer = (peer: Peer | null) => ({
  peer: peer?.address ?? null,
  node: peer === null || peer.node === null ? null : `${peer.node} (${peer.user ?? 'unknown user'})`,
})

/**
 * Asks the gate, writes the decision to the audit log, and throws the refusal.
 * An audit log that cannot be written denies the access (AUDIT_UNAVAILABLE).
 * `note` says what an allowed access does (an answer's event and choice), in
 * the entry's `reason`.
 */
export async function authorize(
  home: string,
  request: { device: DeviceRecord | null; action: Action; session?: string; peer: Peer; now: number; note?: string },
): Promise<Allowed> {
  const { device, action, session, peer, now, note } = request
  const verdict = decide({ device: grantOf(device), action, ...(session === undefined ? {} : { session }) }, now)
  await appendAudit(home, {
    ts: now,
    deviceId: device?.id ?? null,
    deviceName: device?.name ?? null,
    action,
    target: session ?? null,
    result: verdict.ok ? 'allow' : 'deny',
    reason: verdict.ok ? [verdict.readOnly ? 'read-only' : undefined, note].filter((r) => r !== undefined).join('; ') || null : verdict.code,
    ...auditPeer(peer),
  })
  if (verdict.ok) return verdict
  if (!device || verdict.code === 'DEVICE_UNKNOWN') {
    throw new HandoffError('NOT_SIGNED_IN', 401, 'sign in with your passkey first')
  }
  throw new HandoffError(verdict.code, DENY_STATUS[verdict.code], verdict.reason)
}

/**
 * Decides again for something already allowed that lives on (a terminal, an
 * event stream), on the device's current record (null: gone, or its sign-in
 * void). A denial is written to the audit log (best effort: what lives on
 * ends anyway); an allow is not, or every re-check would write a line.
 */
export function recheck(
  home: string,
  request: { deviceId: string; device: DeviceRecord | null; action: Action; session?: string; peer: Peer | null; now: number },
): Verdict {
  const { deviceId, device, action, session, peer, now } = request
  const verdict = decide({ device: grantOf(device), action, ...(session === undefined ? {} : { session }) }, now)
  if (!verdict.ok) {
    void appendAudit(home, {
      deviceId,
      deviceName: device?.name ?? null,
      action,
      target: session ?? null,
      result: 'deny',
      reason: verdict.code,
      ...auditPeer(peer),
    }).catch(() => {})
  }
  return verdict
}
