// The two contents crash-writer.ts moves each JSON state file between.
import type { PushSubscriptionRecord } from '../server/events/push/subscriptions.js'
import { newDevice, type DeviceRecord } from '../server/store/index.js'

// Fixed ids: the writer and the checker are different processes.
const base = newDevice({ id: 'crashDeviceAAAAAAAAAAA', name: 'crash phone', status: 'active', sessions: '*', readOnly: false, expiresAt: null }, 1_800_000_000_000)
const second = newDevice({ id: 'crashDeviceBBBBBBBBBBB', name: 'second phone', status: 'active', sessions: 'work-*', readOnly: true, expiresAt: null }, 1_800_000_000_000)

/** Before and after a pairing plus an edit: a second device appears, the first changes name and grant. */
export const CRASH_DEVICES: readonly DeviceRecord[][] = [
  [base],
  [{ ...base, name: 'renamed phone', sessions: 'main,work-*', readOnly: true, generation: 1 }, second],
]

/** P-256's base point, uncompressed: a valid public key that every process spells the same. */
const P256_GENERATOR = Buffer.from(
  '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
  'hex',
).toString('base64url')

const sub = (deviceId: string, n: number): PushSubscriptionRecord => ({
  deviceId,
  endpoint: `https://push.example/${n}`,
  p256dh: P256_GENERATOR,
  auth: Buffer.alloc(16, n).toString('base64url'),
  private: false,
  createdAt: 1_800_000_000_000,
})

export const CRASH_SUBSCRIPTIONS: readonly PushSubscriptionRecord[][] = [[sub(base.id, 1)], [sub(base.id, 2), sub(second.id, 3)]]
