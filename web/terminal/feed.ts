import type { Terminal } from '@xterm/xterm'

/**
 * Puts the pane's history into xterm's scrollback before each socket's live
 * output. Per socket (`begin()`), the first live byte fetches the history,
 * then resets the terminal (dropping a stale or previous screen), writes the
 * history, pushes it above the screen with newlines, and lets tmux's full
 * redraw paint the screen. Nothing is written twice: the history is read
 * after tmux has sized the window for this socket (a taller window pulls
 * history lines back onto the screen), it ends where the screen begins
 * (`screen=0`), and every reconnect starts from a reset.
 */
export class ScreenFeed {
  private generation = 0
  /** Output held until the history is written; undefined once live. */
  private held: [Uint8Array, () => void][] | undefined
  private disposed = false

  constructor(
    private readonly term: Terminal,
    private readonly fetchHistory: () => Promise<string>,
    /** The live screen replaced whatever was shown before. */
    private readonly live: () => void,
  ) {}

  /** A socket is opening: its output waits for the history. */
  begin(): void {
    this.generation++
    this.held = []
  }

  /**
   * The terminal changed size (and told tmux) before going live. Output held
   * so far was drawn for the old size and would scroll duplicate lines into
   * the scrollback; tmux redraws everything at the new size, so it is dropped
   * (acknowledged, not shown) and the history is read again after the redraw.
   */
  resized(): void {
    if (!this.held || this.held.length === 0) return
    const dropped = this.held
    this.begin()
    for (const [, done] of dropped) done()
  }

  output(bytes: Uint8Array, rendered: () => void): void {
    if (!this.held) return this.term.write(bytes, rendered)
    this.held.push([bytes, rendered])
    if (this.held.length > 1) return
    const generation = this.generation
    // Without history (an error, lines=0) the terminal is still usable.
    void this.fetchHistory().catch(() => '').then((text) => {
      if (this.disposed || generation !== this.generation || !this.held) return
      const held = this.held
      this.held = undefined
      this.term.reset()
      writeHistory(this.term, text)
      for (const [chunk, done] of held) this.term.write(chunk, done)
      this.live()
    })
  }

  dispose(): void {
    this.disposed = true
  }
}

/** Writes `text` (lines split by `\n`) and scrolls all of it into the scrollback. */
export function writeHistory(term: Terminal, text: string): void {
  const trimmed = text.replace(/\n+$/, '')
  if (!trimmed) return
  // Attributes reset after the history, so its last colour does not leak into the screen.
  term.write(trimmed.split('\n').join('\x1b[0m\r\n') + '\x1b[0m' + '\r\n'.repeat(term.rows))
}
