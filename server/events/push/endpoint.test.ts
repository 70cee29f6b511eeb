import { describe, expect, it } from 'vitest'
import { checkEndpoint, checkKeys, isPushServiceHost, PUSH_SERVICE_HOSTS } from './endpoint.js'
import { PUSH_LIMITS } from './limits.js'

const KEY = Buffer.from('BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', 'base64url')
const AUTH = Buffer.alloc(16, 7).toString('base64url')
const P256DH = KEY.toString('base64url')

describe('checkEndpoint', () => {
  it.each([
    'https://fcm.googleapis.com/fcm/send/abc',
    'https://updates.push.services.mozilla.com/wpush/v2/abc',
    'https://wns2-par02p.notify.windows.com/w/?token=abc',
    'https://web.push.apple.com/QGZ',
    'https://api.push.apple.com/x',
    'https://fcm.googleapis.com:443/fcm/send/abc', // the default port, written out
  ])('accepts %s', (url) => {
    expect(checkEndpoint(url).ok).toBe(true)
  })

  it.each([
    ['http', 'http://fcm.googleapis.com/fcm/send/abc'],
    ['unknown host', 'https://evil.example/fcm/send'],
    ['lookalike suffix', 'https://fcm.googleapis.com.evil.example/x'],
    ['bare suffix', 'https://push.services.mozilla.com/x'],
    ['trailing dot', 'https://fcm.googleapis.com./x'],
    ['userinfo', 'https://user:pw@fcm.googleapis.com/x'],
    ['user only', 'https://user@fcm.googleapis.com/x'],
    ['port', 'https://fcm.googleapis.com:8443/x'],
    ['IP literal', 'https://127.0.0.1/x'],
    ['IPv6 literal', 'https://[::1]/x'],
    ['fragment', 'https://fcm.googleapis.com/x#y'],
    ['not a URL', 'fcm.googleapis.com/x'],
    ['empty', ''],
    ['long', `https://fcm.googleapis.com/${'a'.repeat(PUSH_LIMITS.endpointChars)}`],
  ])('refuses %s', (_what, url) => {
    const r = checkEndpoint(url)
    expect(r.ok).toBe(false)
  })

  it('takes exactly the limit and refuses one character more', () => {
    const base = 'https://fcm.googleapis.com/'
    expect(checkEndpoint(base + 'a'.repeat(PUSH_LIMITS.endpointChars - base.length)).ok).toBe(true)
    expect(checkEndpoint(base + 'a'.repeat(PUSH_LIMITS.endpointChars - base.length + 1)).ok).toBe(false)
  })

  it('allows a loopback endpoint only under the test-only policy', () => {
    expect(checkEndpoint('https://127.0.0.1:8443/push').ok).toBe(false)
    expect(checkEndpoint('https://127.0.0.1:8443/push', { allowLoopbackEndpointForTests: true }).ok).toBe(true)
    expect(checkEndpoint('http://127.0.0.1:8443/push', { allowLoopbackEndpointForTests: true }).ok).toBe(false)
    expect(checkEndpoint('https://10.0.0.1:8443/push', { allowLoopbackEndpointForTests: true }).ok).toBe(false)
  })

  it('keeps the host list in one constant', () => {
    expect(PUSH_SERVICE_HOSTS).toContain('fcm.googleapis.com')
    expect(isPushServiceHost('x.notify.windows.com')).toBe(true)
    expect(isPushServiceHost('notify.windows.com.evil')).toBe(false)
  })
})

describe('checkKeys', () => {
  it('accepts a P-256 point and a 16-byte secret', () => {
    expect(checkKeys(P256DH, AUTH)).toEqual({ ok: true, value: { p256dh: P256DH, auth: AUTH } })
  })
  it('tolerates padding and returns the keys without it', () => {
    expect(checkKeys(`${P256DH}=`, `${AUTH}==`)).toEqual({ ok: true, value: { p256dh: P256DH, auth: AUTH } })
  })
  it.each([
    ['p256dh of 64 bytes', KEY.subarray(0, 64).toString('base64url'), AUTH],
    ['p256dh of 66 bytes', Buffer.concat([KEY, Buffer.of(1)]).toString('base64url'), AUTH],
    ['p256dh compressed-form prefix', Buffer.concat([Buffer.of(2), KEY.subarray(1)]).toString('base64url'), AUTH],
    ['p256dh off the curve', Buffer.concat([KEY.subarray(0, 64), Buffer.of(KEY[64]! ^ 1)]).toString('base64url'), AUTH],
    ['p256dh not base64url', `${P256DH.slice(0, -1)}+`, AUTH],
    ['auth of 15 bytes', P256DH, Buffer.alloc(15).toString('base64url')],
    ['auth of 17 bytes', P256DH, Buffer.alloc(17).toString('base64url')],
    ['auth not text', P256DH, 42],
  ])('refuses %s', (_what, p256dh, auth) => {
    expect(checkKeys(p256dh, auth).ok).toBe(false)
  })
})
