import type { TerminalTarget } from './socket.js'

/**
 * Instant resume's storage: the last screen of each tab, kept in
 * localStorage as the escape sequences that repaint it (colours included).
 * No xterm.js here, so the app's entry can paint a saved screen before the
 * terminal's chunk has loaded (web/shell/saved-preview.ts).
 */

/** A saved screen larger than this is not kept (localStorage holds about 5 MB per origin). */
export const SAVED_SCREEN_MAX_CHARS = 64 * 1024
/** At most this many tabs keep a saved screen; the least recently saved go first. */
export const SAVED_SCREENS_MAX = 20

const PREFIX = 'handoff.screen.'
const keyFor = (target: TerminalTarget) => `${PREFIX}${encodeURIComponent(target.session)}/${target.window}`

export interface SavedScreen {
  cols: number
  rows: number
  /** What repaints the screen, as xterm.js's serialize addon writes it. */
  data: string
  savedAt: number
}

/** The saved screen of `target`, if there is a readable one. */
export function readSavedScreen(target: TerminalTarget): SavedScreen | undefined {
  try {
    const raw = localStorage.getItem(keyFor(target))
    if (!raw) return undefined
    const saved = JSON.parse(raw) as Partial<SavedScreen>
    if (typeof saved.data !== 'string' || typeof saved.cols !== 'number' || typeof saved.rows !== 'number') return undefined
    return { cols: saved.cols, rows: saved.rows, data: saved.data, savedAt: Number(saved.savedAt) || 0 }
  } catch {
    return undefined
  }
}

/** Keeps `screen` for `target` unless it is too large, then forgets the oldest beyond SAVED_SCREENS_MAX. */
export function writeSavedScreen(target: TerminalTarget, screen: SavedScreen): void {
  if (screen.data.length > SAVED_SCREEN_MAX_CHARS) return
  try {
    localStorage.setItem(keyFor(target), JSON.stringify(screen))
    pruneSavedScreens()
  } catch {
    // Storage full or disabled: resume will simply not be instant.
  }
}

function pruneSavedScreens(): void {
  const entries: { key: string; savedAt: number }[] = []
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i)
    if (!key?.startsWith(PREFIX)) continue
    let savedAt = 0
    try {
      savedAt = Number((JSON.parse(localStorage.getItem(key) ?? '{}') as { savedAt?: unknown }).savedAt) || 0
    } catch {
      // A corrupt entry is the first to go.
    }
    entries.push({ key, savedAt })
  }
  entries.sort((a, b) => b.savedAt - a.savedAt)
  for (const { key } of entries.slice(SAVED_SCREENS_MAX)) localStorage.removeItem(key)
}

/** Forgets every saved screen (for sign-out: screens can hold secrets). */
export function forgetSavedScreens(): void {
  try {
    const keys: string[] = []
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i)
      if (key?.startsWith(PREFIX)) keys.push(key)
    }
    for (const key of keys) localStorage.removeItem(key)
  } catch {
    // Storage disabled: nothing was saved.
  }
}
