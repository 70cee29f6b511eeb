import type { Device } from '../api.js'
import { readOnlyBadge } from '../device-ui.js'
import { h } from '../dom.js'
import type { ConnectionState, TerminalTarget, WindowLayout } from './socket.js'

/**
 * The terminal's title bar: back, the window's real name, the read-only
 * badge, the "saved" mark of a resumed screen, the connection's state, and
 * the reader and menu buttons (given, as their owners make them).
 */
export class TerminalHeader {
  readonly element: HTMLElement
  readonly back = h('button', { type: 'button', class: 'back', 'data-testid': 'back' }, '‹ Sessions')
  readonly readerButton = h('button', { type: 'button', class: 'bar-button', 'data-testid': 'reader-open', title: 'Reader: the history as text to read, select and search' }, '¶')
  private readonly title: HTMLElement
  private readonly status = h('span', { class: 'status', 'data-testid': 'status', role: 'status' })
  private readonly saved = h('span', { class: 'badge stale', 'data-testid': 'stale', hidden: true, title: 'The screen as it was when you left; live output replaces it' }, 'saved')

  constructor(target: TerminalTarget, device: Device, menuButton: HTMLElement) {
    this.title = h('span', { class: 'terminal-title' }, `${target.session}:${target.window}`)
    this.element = h('header', { class: 'terminal-bar' }, this.back, this.title, readOnlyBadge(device), this.saved, this.status, this.readerButton, menuButton)
  }

  /** The window's names as tmux says them (renames follow). */
  showWindow(layout: WindowLayout): void {
    this.title.textContent = `${layout.session}:${layout.window.index} ${layout.window.name}`
  }

  /** "live" only once the screen is; a saved screen and "live" never show together. */
  showState(state: ConnectionState): void {
    this.status.dataset.state = state
    this.status.textContent = state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : 'offline'
    if (state === 'live') this.showSaved(false)
  }

  /** Marks the screen as the one saved when the user left. */
  showSaved(saved: boolean): void {
    this.saved.hidden = !saved
  }
}
