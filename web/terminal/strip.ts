import { listWindows, type TmuxWindow } from '../api.js'
import { h } from '../dom.js'
import { onSessions } from '../events.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import type { TerminalTarget } from './socket.js'

/**
 * The strip of the session's windows above the terminal: fetched once, then
 * live from the event stream (`event: sessions`). A tap opens another window.
 */
export class WindowStrip implements Disposable {
  readonly element = h('nav', { class: 'window-strip', 'data-testid': 'window-strip', 'aria-label': 'Windows of this session' })
  private readonly store = new DisposableStore()
  private loading = false

  constructor(
    private readonly target: TerminalTarget,
    private readonly open: (next: TerminalTarget) => void,
  ) {
    this.store.add(
      onSessions((event) => {
        const session = event.sessions.find((s) => s.name === target.session)
        if (session) this.render(session.windowList)
      }),
    )
  }

  /** Fetches the windows (the stream may not have sent them yet). */
  async load(): Promise<void> {
    if (this.loading) return
    this.loading = true
    try {
      this.render(await listWindows(this.target.session))
    } catch {
      // The terminal works without its strip; the stream or the next connect fills it.
    } finally {
      this.loading = false
    }
  }

  dispose(): void {
    this.store.dispose()
  }

  private render(windows: readonly TmuxWindow[]): void {
    if (this.store.isDisposed) return
    const chips = windows.map((w) => {
      const here = w.index === this.target.window
      const button = h(
        'button',
        { type: 'button', class: 'strip-window', 'data-testid': `strip-window-${w.index}`, 'aria-current': here ? 'page' : undefined },
        `${w.index}:${w.name}`,
      )
      if (!here) button.addEventListener('click', () => this.open({ session: this.target.session, window: w.index }))
      return button
    })
    this.element.replaceChildren(...chips)
    // The window shown is always in view, however many windows come before it.
    this.element.querySelector('[aria-current]')?.scrollIntoView({ block: 'nearest', inline: 'center' })
  }
}
