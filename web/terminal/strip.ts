import { listWindows, type TmuxWindow } from '../api.js'
import { h } from '../dom.js'
import { onSessions, runningUnseenEvents, type UnseenBadge } from '../events.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { unseenCount, unseenLabel, unseenText } from '../sessions/unseen-marks.js'
import type { TerminalTarget } from './socket.js'
import './strip.css'

/**
 * The strip of the session's windows above the terminal: fetched once, then
 * live from the event stream (`event: sessions`). Another window with unseen
 * events shows their count and the newest one's text. A tap opens another window.
 */
export class WindowStrip implements Disposable {
  readonly element = h('nav', { class: 'window-strip', 'data-testid': 'window-strip', 'aria-label': 'Windows of this session' })
  private readonly store = new DisposableStore()
  private loading = false
  private windows: readonly TmuxWindow[] = []

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
    const unseen = runningUnseenEvents()
    if (unseen) this.store.add(unseen.onChange(() => this.render(this.windows)))
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
    this.windows = windows
    this.element.replaceChildren(...windows.map((w) => this.chip(w)))
    // The window shown is always in view, however many windows come before it.
    this.element.querySelector('[aria-current]')?.scrollIntoView({ block: 'nearest', inline: 'center' })
  }

  private chip(window: TmuxWindow): HTMLButtonElement {
    const here = window.index === this.target.window
    // The window on screen has none: its events count as seen as they come.
    const unseen: UnseenBadge = here ? { count: 0 } : (runningUnseenEvents()?.badge({ session: this.target.session, window: window.index }) ?? { count: 0 })
    const button = h(
      'button',
      {
        type: 'button',
        class: 'strip-window',
        'data-testid': `strip-window-${window.index}`,
        'aria-current': here ? 'page' : undefined,
        'aria-label': `Window ${window.index}: ${window.name}${unseenLabel(unseen)}`,
      },
      `${window.index}:${window.name}`,
      unseenCount(unseen),
      unseenText(unseen),
    )
    if (!here) button.addEventListener('click', () => this.open({ session: this.target.session, window: window.index }))
    return button
  }
}
