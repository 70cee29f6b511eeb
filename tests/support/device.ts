import { issueToken, loadTokenKey } from '../../server/auth/index.js'
import { newDevice, updateDevices, type DeviceRecord } from '../../server/store/index.js'

export interface TestDevice {
  record: DeviceRecord
  /** The `Cookie` header value a signed-in browser of this device sends. */
  cookie: string
  /** The token alone, for a browser context's cookie jar. */
  token: string
}

/**
 * Adds an active device to HANDOFF_HOME through the store, as `handoff pair`
 * leaves it, and signs a token for it with the server's own key. The passkey
 * ceremonies themselves are exercised in Chromium (pairing-browser.test.ts).
 */
export async function addSignedInDevice(
  home: string,
  origin: string,
  grant: Partial<Pick<DeviceRecord, 'name' | 'sessions' | 'readOnly' | 'expiresAt'>> = {},
): Promise<TestDevice> {
  const now = Date.now()
  const record = newDevice({
    name: grant.name ?? 'test phone',
    status: 'active',
    sessions: grant.sessions ?? '*',
    readOnly: grant.readOnly ?? false,
    expiresAt: grant.expiresAt === undefined ? now + 24 * 60 * 60_000 : grant.expiresAt,
    generation: 1,
  })
  await updateDevices(home, (devices) => [...devices, record])
  const token = await issueToken(await loadTokenKey(home), { deviceId: record.id, generation: record.generation, audience: origin })
  return { record, token, cookie: `handoff=${token}` }
}

/** Changes a device as `handoff devices edit/rm` would: under the lock, generation bumped. */
export async function changeDevice(home: string, id: string, edit: (d: DeviceRecord) => Partial<DeviceRecord>): Promise<void> {
  await updateDevices(home, (devices) => devices.map((d) => (d.id === id ? { ...d, ...edit(d), generation: d.generation + 1 } : d)))
}
