import type { Device } from '../api.js'

/**
 * The last `/api/me` answer, so that opening a tab again shows its terminal
 * (and its saved screen) at once instead of after that request's round trip.
 * It only shapes the screen (read-only or not, this phone's preferences):
 * the server decides every request and the terminal's socket on the
 * device's current record, and the next `/api/me` answer replaces the
 * screen if anything changed. Names and the grant only, never a secret.
 */
const KEY = 'handoff.device'

export function rememberDevice(device: Device): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(device))
  } catch {
    // Full or disabled storage: the next start waits for /api/me, as the first did.
  }
}

/** The remembered device while its access is current (active, not past its expiry), else undefined. */
export function rememberedDevice(now = Date.now()): Device | undefined {
  let value: unknown
  try {
    value = JSON.parse(localStorage.getItem(KEY) ?? 'null')
  } catch {
    return undefined
  }
  if (!isDevice(value) || value.state !== 'active') return undefined
  return value.expiresAt === null || now < value.expiresAt ? value : undefined
}

/** For sign-out and a refused sign-in: the next start asks first. */
export function forgetDevice(): void {
  try {
    localStorage.removeItem(KEY)
  } catch {
    // Storage disabled: nothing was remembered.
  }
}

/** Whether two answers describe the phone alike, so a screen shown for one may stay for the other. */
export function sameDevice(a: Device, b: Device): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function isDevice(value: unknown): value is Device {
  if (typeof value !== 'object' || value === null) return false
  const d = value as Record<string, unknown>
  return (
    typeof d.id === 'string' &&
    typeof d.name === 'string' &&
    typeof d.sessions === 'string' &&
    typeof d.readOnly === 'boolean' &&
    (d.expiresAt === null || typeof d.expiresAt === 'number') &&
    (d.state === 'active' || d.state === 'soft-expired') &&
    typeof d.renewalRequested === 'boolean'
  )
}
