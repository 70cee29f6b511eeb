import { join } from 'node:path'
import * as v from 'valibot'
import { HandoffError } from '../../errors.js'
import { jsonStateFile, type DeviceRecord } from '../../store/index.js'
import { checkEndpoint, checkKeys } from './endpoint.js'
import { PUSH_LIMITS } from './limits.js'

export const PUSH_FILE = 'push.json'
export const pushPath = (home: string): string => join(home, PUSH_FILE)

/** One browser's push subscription, as stored in HANDOFF_HOME/push.json. One per device. */
export interface PushSubscriptionRecord {
  deviceId: string
  endpoint: string
  /** base64url, no padding: 65 and 16 bytes. */
  p256dh: string
  auth: string
  /** Title only, never the message body. */
  private: boolean
  /** ms since the epoch. */
  createdAt: number
}

const b64 = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/, 'must be base64url'))
const SubscriptionSchema = v.pipe(
  v.strictObject({
    deviceId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22,}$/, 'must be a device id')),
    endpoint: v.pipe(v.string(), v.maxLength(PUSH_LIMITS.endpointChars)),
    p256dh: b64,
    auth: b64,
    private: v.boolean(),
    createdAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
  }),
  v.check((s) => checkKeys(s.p256dh, s.auth).ok, 'keys must be a 65-byte P-256 point and a 16-byte secret'),
)
const PushFileSchema = v.strictObject({ version: v.literal(1), subscriptions: v.array(SubscriptionSchema) })

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _schemaMatchesRecord: Same<v.InferOutput<typeof SubscriptionSchema>, PushSubscriptionRecord> = true
void _schemaMatchesRecord

/** push.json. */
const pushFile = jsonStateFile({
  name: PUSH_FILE,
  schema: PushFileSchema,
  empty: { version: 1 as const, subscriptions: [] },
  kind: 'a version 1 push file',
  fix: () => 'fix it by hand or remove it (phones then turn notifications on again).',
})

/**
 * Every stored subscription. A missing file is none; a corrupt one is BAD_STATE
 * naming the file (never overwritten). Endpoints are not re-checked here:
 * senders check each one before sending.
 */
export async function readSubscriptions(home: string): Promise<PushSubscriptionRecord[]> {
  return (await pushFile.read(home)).subscriptions
}

/**
 * Read-modify-write of push.json under its lock (validated, atomic, 0600).
 * Returns what was written; writes nothing when `change` leaves it as it was.
 */
export async function updateSubscriptions(
  home: string,
  change: (subs: PushSubscriptionRecord[]) => PushSubscriptionRecord[],
): Promise<PushSubscriptionRecord[]> {
  const file = await pushFile.update(home, (current) => ({ version: 1 as const, subscriptions: change(current.subscriptions) }))
  return file.subscriptions
}

/** What a browser posts: `PushSubscription.toJSON()`'s fields and the private switch. */
export interface SubscriptionInput {
  endpoint: unknown
  keys: { p256dh: unknown; auth: unknown }
  private?: boolean | undefined
}

/** Checks a posted subscription; throws BAD_SUBSCRIPTION saying what is wrong. */
export function checkSubscription(
  deviceId: string,
  input: SubscriptionInput,
  now: number,
  policy: { allowLoopbackEndpointForTests?: boolean } = {},
): PushSubscriptionRecord {
  const endpoint = checkEndpoint(input.endpoint, policy)
  if (!endpoint.ok) throw new HandoffError('BAD_SUBSCRIPTION', 400, endpoint.reason)
  const keys = checkKeys(input.keys.p256dh, input.keys.auth)
  if (!keys.ok) throw new HandoffError('BAD_SUBSCRIPTION', 400, keys.reason)
  return { deviceId, endpoint: input.endpoint as string, ...keys.value, private: input.private ?? false, createdAt: now }
}

/**
 * Stores `sub` as its device's one subscription, replacing the device's
 * previous one and any other device's record of the same endpoint (one
 * browser, one subscription). Re-posting the same endpoint keeps `createdAt`.
 */
export function saveSubscription(home: string, sub: PushSubscriptionRecord): Promise<PushSubscriptionRecord[]> {
  return updateSubscriptions(home, (subs) => {
    const same = subs.find((s) => s.deviceId === sub.deviceId && s.endpoint === sub.endpoint)
    const kept = subs.filter((s) => s.deviceId !== sub.deviceId && s.endpoint !== sub.endpoint)
    return [...kept, same ? { ...sub, createdAt: same.createdAt } : sub]
  })
}

/** Removes one device's subscription with this endpoint; true if there was one. */
export async function removeSubscription(home: string, deviceId: string, endpoint: string): Promise<boolean> {
  let removed = false
  await updateSubscriptions(home, (subs) => {
    const kept = subs.filter((s) => !(s.deviceId === deviceId && s.endpoint === endpoint))
    removed = kept.length !== subs.length
    return removed ? kept : subs
  })
  return removed
}

/**
 * Drops the subscriptions of devices that are gone or revoked. Call it
 * whenever devices change (the server's watchDevices callback, `handoff revoke`).
 * Returns how many were removed.
 */
export async function pruneSubscriptions(home: string, devices: readonly DeviceRecord[]): Promise<number> {
  const live = new Set(devices.filter((d) => d.status !== 'revoked').map((d) => d.id))
  // Most device changes leave every subscription alone: skip the lock then.
  if ((await readSubscriptions(home)).every((s) => live.has(s.deviceId))) return 0
  let removed = 0
  await updateSubscriptions(home, (subs) => {
    const kept = subs.filter((s) => live.has(s.deviceId))
    removed = subs.length - kept.length
    return removed > 0 ? kept : subs
  })
  return removed
}
