/**
 * The terminal preferences this phone remembers (localStorage, per paired
 * device): font size, resize policy, how much history fills the scrollback.
 */

import type { SizePolicy } from './socket.js'

export type { SizePolicy }

export interface TerminalPrefs {
  fontSize: number
  sizePolicy: SizePolicy
  historyLines: number
  /** How the desktop-size view scales (a pinch sets a number). */
  desktopZoom: DesktopZoom
}

/** Font sizes in CSS pixels, for pinch and the menu's buttons. */
export const FONT_SIZE = { min: 8, max: 28, phone: 12, desktop: 14 } as const
/** History lines the scrollback is filled with; the server allows 0-50000. */
export const HISTORY_LINES = { default: 1000, max: 50_000, choices: [0, 200, 1000, 5000, 20_000] } as const

/** Desktop view: text is never shown smaller than this (CSS px) unless the user pinches there. */
export const MIN_LEGIBLE_FONT_PX = 9
/** Desktop view: how far a pinch may scale the screen. */
export const DESKTOP_SCALE = { min: 0.15, max: 3 } as const

/**
 * How the desktop view scales the window: `readable` fills the phone's width
 * unless text would be smaller than legible (then it pans), `fit-width`
 * shows whole lines however small, a number is the user's own pinch.
 */
export type DesktopZoom = 'readable' | 'fit-width' | number

export function defaultPrefs(narrow: boolean): TerminalPrefs {
  return { fontSize: narrow ? FONT_SIZE.phone : FONT_SIZE.desktop, sizePolicy: 'fit', historyLines: HISTORY_LINES.default, desktopZoom: 'readable' }
}

export const clampFontSize = (size: number): number =>
  Math.round(Math.min(FONT_SIZE.max, Math.max(FONT_SIZE.min, size)))

/** Reads stored preferences, keeping each valid field and defaulting the rest (a corrupt entry is not an error). */
export function parsePrefs(raw: string | null, defaults: TerminalPrefs): TerminalPrefs {
  let value: unknown
  try {
    value = raw === null ? {} : JSON.parse(raw)
  } catch {
    return defaults
  }
  if (typeof value !== 'object' || value === null) return defaults
  const v = value as Record<string, unknown>
  const prefs = { ...defaults }
  if (typeof v.fontSize === 'number' && Number.isFinite(v.fontSize)) prefs.fontSize = clampFontSize(v.fontSize)
  if (v.sizePolicy === 'fit' || v.sizePolicy === 'desktop') prefs.sizePolicy = v.sizePolicy
  if (typeof v.historyLines === 'number' && Number.isInteger(v.historyLines) && v.historyLines >= 0 && v.historyLines <= HISTORY_LINES.max) {
    prefs.historyLines = v.historyLines
  }
  const zoom = v.desktopZoom
  if (zoom === 'readable' || zoom === 'fit-width') prefs.desktopZoom = zoom
  else if (typeof zoom === 'number' && zoom >= DESKTOP_SCALE.min && zoom <= DESKTOP_SCALE.max) prefs.desktopZoom = zoom
  return prefs
}

const keyFor = (deviceId: string) => `handoff.terminal.${deviceId}`

export function loadPrefs(deviceId: string, defaults: TerminalPrefs): TerminalPrefs {
  try {
    return parsePrefs(localStorage.getItem(keyFor(deviceId)), defaults)
  } catch {
    // Storage disabled (private mode): defaults, every time.
    return defaults
  }
}

/** This phone's preferences for `deviceId`; while the device is not known yet, the defaults for this screen. */
export function phonePrefs(deviceId: string | undefined): TerminalPrefs {
  const defaults = defaultPrefs(window.matchMedia('(max-width: 600px)').matches)
  return deviceId === undefined ? defaults : loadPrefs(deviceId, defaults)
}

/** The size policy a terminal asks with: a read-only phone never resizes the desktop's window (the server enforces it too). */
export const policyFor = (prefs: TerminalPrefs, readOnly: boolean): SizePolicy => (readOnly ? 'desktop' : prefs.sizePolicy)

export function savePrefs(deviceId: string, prefs: TerminalPrefs): void {
  try {
    localStorage.setItem(keyFor(deviceId), JSON.stringify(prefs))
  } catch {
    // Full or disabled storage: the preference lasts until the page closes.
  }
}
