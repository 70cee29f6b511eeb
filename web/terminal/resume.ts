import { SerializeAddon } from '@xterm/addon-serialize'
import type { Terminal } from '@xterm/xterm'
import { readSavedScreen, writeSavedScreen, type SavedScreen } from './saved-screens.js'
import type { TerminalTarget } from './socket.js'

/**
 * Instant resume: the last screen of each tab is kept (saved-screens.ts)
 * and painted at once when the tab opens, marked stale until the live
 * screen replaces it.
 */
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
    return readSavedScreen(this.target)
  }

  /** Saves what the terminal shows now (the screen only, not the scrollback). */
  save(): void {
    let data: string
    try {
      data = this.serializer.serialize({ scrollback: 0, excludeAltBuffer: false, excludeModes: true })
    } catch {
      return
    }
    writeSavedScreen(this.target, { cols: this.term.cols, rows: this.term.rows, data, savedAt: Date.now() })
  }

  dispose(): void {
    this.serializer.dispose()
  }
}
