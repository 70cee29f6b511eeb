import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isHandoffError } from '../../errors.js'
import type { DeviceRecord } from '../../store/index.js'
import { checkSubscription, pruneSubscriptions, pushPath, readSubscriptions, removeSubscription, saveSubscription } from './subscriptions.js'

const P256DH = 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM'
const AUTH = Buffer.alloc(16, 7).toString('base64url')
const A = 'a'.repeat(22)
const B = 'b'.repeat(22)
const sub = (deviceId: string, endpoint: string, isPrivate = false) =>
  checkSubscription(deviceId, { endpoint, keys: { p256dh: P256DH, auth: AUTH }, private: isPrivate }, 1000)

let home: string
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'handoff-push-'))
})
afterEach(() => rm(home, { recursive: true, force: true }))

describe('subscriptions', () => {
  it('keeps one per device, 0600, and removes by endpoint', async () => {
    await saveSubscription(home, sub(A, 'https://fcm.googleapis.com/fcm/send/1'))
    await saveSubscription(home, sub(A, 'https://fcm.googleapis.com/fcm/send/2', true))
    await saveSubscription(home, sub(B, 'https://web.push.apple.com/3'))
    expect((await readSubscriptions(home)).map((s) => [s.deviceId, s.endpoint, s.private])).toEqual([
      [A, 'https://fcm.googleapis.com/fcm/send/2', true],
      [B, 'https://web.push.apple.com/3', false],
    ])
    expect((await stat(pushPath(home))).mode & 0o777).toBe(0o600)
    expect(await removeSubscription(home, B, 'https://fcm.googleapis.com/fcm/send/2')).toBe(false) // not B's
    expect(await removeSubscription(home, A, 'https://fcm.googleapis.com/fcm/send/2')).toBe(true)
    expect((await readSubscriptions(home)).map((s) => s.deviceId)).toEqual([B])
  })

  it('refuses bad subscriptions with BAD_SUBSCRIPTION', () => {
    const bad = [
      () => sub(A, 'http://fcm.googleapis.com/x'),
      () => sub(A, 'https://evil.example/x'),
      () => checkSubscription(A, { endpoint: 'https://fcm.googleapis.com/x', keys: { p256dh: P256DH.slice(2), auth: AUTH } }, 0),
      () => checkSubscription(A, { endpoint: 'https://fcm.googleapis.com/x', keys: { p256dh: P256DH, auth: `${AUTH}AA` } }, 0),
    ]
    for (const f of bad) expect(isHandoffError((() => { try { f() } catch (e) { return e } })(), 'BAD_SUBSCRIPTION')).toBe(true)
  })

  it('prunes the subscriptions of revoked and removed devices', async () => {
    await saveSubscription(home, sub(A, 'https://fcm.googleapis.com/fcm/send/1'))
    await saveSubscription(home, sub(B, 'https://fcm.googleapis.com/fcm/send/2'))
    const devices = [{ id: A, status: 'active' }, { id: B, status: 'revoked' }] as DeviceRecord[]
    expect(await pruneSubscriptions(home, devices)).toBe(1)
    expect(await pruneSubscriptions(home, devices)).toBe(0)
    expect(await pruneSubscriptions(home, [])).toBe(1)
    expect(await readSubscriptions(home)).toEqual([])
  })

  it('refuses a corrupt file and leaves it alone', async () => {
    await writeFile(pushPath(home), '{"version":1,"subscriptions":[{}]}')
    expect(isHandoffError(await readSubscriptions(home).catch((e: unknown) => e), 'BAD_STATE')).toBe(true)
    expect(await readFile(pushPath(home), 'utf8')).toContain('subscriptions')
  })
})
