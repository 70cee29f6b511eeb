import { SerializeAddon } from '@xterm/addon-serialize'
import type { Terminal } from '@xterm/xterm'
import type { TerminalTarget } from './socket.js'

/**
 * Instant resume: the last screen of each tab is kept in localStorage (as
 * the escape sequences that repaint it, colours included) and painted at
 * once when the tab opens, marked stale until the live screen replaces it.
 */

/** A saved screen larger than this is not kept (localStorage holds about 5 MB per origin). */
export const SAVED_SCREEN_MAX_CHARS = 64 * 1024
/** At most this many tabs keep a saved screen; the least recently saved go first. */
export const SAVED_SCREENS_MAX = 20

const PREFIX = 'handoff.screen.'
const keyFor = (target: TerminalTarget) => `${PREFIX}${encodeURIComponent(target.session)}/${target.window}`

interface SavedScreen {
  cols: number
  rows: number
  data: string
  savedAt: number
}

export class ScreenKeeper {
  private readonly serializer = new SerializeAddon()

  constructor(
    private readonly term: Terminal,
    private readonly target: TerminalTarget,
  ) {
    term.loadAddon(this.serializer)
  }

  /** The saved screen's repaint sequence, if there is one. */
  load(): SavedScreen | undefined {
    try {
      const raw = localStorage.getItem(keyFor(this.target))
      if (!raw) return undefined
      const saved = JSON.parse(raw) as Partial<SavedScreen>
      if (typeof saved.data !== 'string' || typeof saved.cols !== 'number' || typeof saved.rows !== 'number') return undefined
      return { cols: saved.cols, rows: saved.rows, data: saved.data, savedAt: Number(saved.savedAt) || 0 }
    } catch {
      return undefined
    }
  }

  /** Saves what the terminal shows now (the screen only, not the scrollback). */
  save(): void {
    let data: string
    try {
      data = this.serializer.serialize({ scrollback: 0, excludeAltBuffer: false, excludeModes: true })
    } catch {
      return
    }
    if (data.length > SAVED_SCREEN_MAX_CHARS) return
    const saved: SavedScreen = { cols: this.term.cols, rows: this.term.rows, data, savedAt: Date.now() }
    try {
      localStorage.setItem(keyFor(this.target), JSON.stringify(saved))
      pruneSavedScreens()
    } catch {
      // Storage full or disabled: resume will simply not be instant.
    }
  }

  dispose(): void {
    this.serializer.dispose()
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
