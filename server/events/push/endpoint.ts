import { createPublicKey } from 'node:crypto'
import { isIP } from 'node:net'
import { PUSH_LIMITS } from './limits.js'

/**
 * The browser push services a subscription may point at. An entry starting
 * with a dot matches any host under it (`updates.push.services.mozilla.com`),
 * any other entry only itself. Nothing else is ever sent to, so a crafted
 * subscription cannot make the server request a URL of the sender's choosing.
 */
export const PUSH_SERVICE_HOSTS: readonly string[] = Object.freeze([
  'fcm.googleapis.com', // Chrome, Edge on Android, Samsung Internet, Opera
  '.push.services.mozilla.com', // Firefox
  '.notify.windows.com', // Edge on Windows (WNS)
  'web.push.apple.com', // Safari and iOS home-screen apps
  '.push.apple.com',
])

/** What the endpoint checks allow beyond the rules; only tests set it. */
export interface EndpointPolicy {
  /**
   * Test-only: also accept `https://127.0.0.1:PORT/…`, `https://[::1]:PORT/…` and
   * `https://localhost:PORT/…`. Production code never sets it, nor reads it from the environment.
   */
  allowLoopbackEndpointForTests?: boolean
}

export type Check<T> = { ok: true; value: T } | { ok: false; reason: string }

const LOOPBACK_TEST_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

/** True when `host` (lower case, as URL parses it) is one of PUSH_SERVICE_HOSTS or under one. */
export function isPushServiceHost(host: string): boolean {
  return PUSH_SERVICE_HOSTS.some((entry) => (entry.startsWith('.') ? host.endsWith(entry) && host.length > entry.length : host === entry))
}

const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)

/**
 * Checks a subscription endpoint: https on the default port, no userinfo or
 * fragment, at most 1024 characters, a host under PUSH_SERVICE_HOSTS. Pure.
 * Called when a subscription is stored and again before every send.
 */
export function checkEndpoint(raw: unknown, policy: EndpointPolicy = {}): Check<URL> {
  if (typeof raw !== 'string' || raw === '') return { ok: false, reason: 'endpoint must be a non-empty string' }
  if (raw.length > PUSH_LIMITS.endpointChars) {
    return { ok: false, reason: `endpoint is ${raw.length} characters; at most ${PUSH_LIMITS.endpointChars} are accepted` }
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { ok: false, reason: `endpoint ${quote(raw)} is not a URL` }
  }
  if (url.protocol !== 'https:') return { ok: false, reason: `endpoint must use https, got ${quote(url.protocol)}` }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'endpoint must not carry a user name or password' }
  if (url.hash !== '') return { ok: false, reason: 'endpoint must not have a fragment' }
  const host = url.hostname
  if (policy.allowLoopbackEndpointForTests && LOOPBACK_TEST_HOSTS.has(host)) return { ok: true, value: url }
  if (url.port !== '') return { ok: false, reason: `endpoint must use the default https port, got port ${url.port}` }
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return { ok: false, reason: `endpoint host must be a push service name, not an address (${quote(host)})` }
  if (!isPushServiceHost(host)) {
    return { ok: false, reason: `endpoint host ${quote(host)} is not a known browser push service (${PUSH_SERVICE_HOSTS.join(', ')})` }
  }
  return { ok: true, value: url }
}

/** Decodes strict base64url (RFC 4648 §5, padding tolerated), or undefined. */
function base64url(raw: unknown): Buffer | undefined {
  if (typeof raw !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(raw)) return undefined
  const bare = raw.replace(/=+$/, '')
  if (bare.length % 4 === 1) return undefined
  return Buffer.from(bare, 'base64url')
}

/**
 * Checks the subscription's keys: `p256dh` an uncompressed P-256 point on the
 * curve (65 bytes), `auth` 16 bytes, both base64url. Returns them without padding. Pure.
 */
export function checkKeys(p256dh: unknown, auth: unknown): Check<{ p256dh: string; auth: string }> {
  const point = base64url(p256dh)
  if (!point) return { ok: false, reason: 'keys.p256dh must be base64url' }
  if (point.length !== PUSH_LIMITS.p256dhBytes) {
    return { ok: false, reason: `keys.p256dh must decode to ${PUSH_LIMITS.p256dhBytes} bytes, got ${point.length}` }
  }
  if (point[0] !== 0x04 || !onCurve(point)) return { ok: false, reason: 'keys.p256dh is not an uncompressed P-256 public key' }
  const secret = base64url(auth)
  if (!secret) return { ok: false, reason: 'keys.auth must be base64url' }
  if (secret.length !== PUSH_LIMITS.authBytes) {
    return { ok: false, reason: `keys.auth must decode to ${PUSH_LIMITS.authBytes} bytes, got ${secret.length}` }
  }
  return { ok: true, value: { p256dh: point.toString('base64url'), auth: secret.toString('base64url') } }
}

function onCurve(point: Buffer): boolean {
  try {
    const x = point.subarray(1, 33).toString('base64url')
    const y = point.subarray(33, 65).toString('base64url')
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' })
    return true
  } catch {
    return false
  }
}
