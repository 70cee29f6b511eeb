import type { Session, TmuxWindow } from '../api.js'
import { h } from '../dom.js'
import type { UnseenBadge, UnseenQuery } from '../events.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { lastKnownList, readLastKnown } from '../shell/offline.js'
import type { TerminalTarget } from '../terminal/socket.js'
import { repaintAges } from './ages.js'
import { sessionRow } from './session-row.js'
import type { WindowsPanel } from './window-row.js'

/** The session whose windows are shown, kept for this browser tab so that coming back (from a terminal, the inbox) finds it open. */
const EXPANDED_KEY = 'handoff.expanded'

/** What the list shows: the sessions and the windows known for them (from the stream: all of them). */
export interface Shown {
  sessions: Session[]
  windows: Record<string, TmuxWindow[]>
  /** Why a session's windows could not be fetched. */
  windowsError?: { session: string; error: unknown } | undefined
}

export interface SessionsListOptions {
  /** A read-only phone gets no control that changes anything. */
  readOnly: boolean
  /** Unseen events of a session or one of its windows. */
  badge(query: UnseenQuery): UnseenBadge
  open(target: TerminalTarget): void
  /** A session was expanded whose windows are not known: fetch them (it shows "Loading…" meanwhile). */
  fetchWindows(session: string): void
  newWindow(session: string): void
  /** `windows`: how many it has, for the question before killing it. */
  killSession(session: string, windows: number): void
  killWindow(session: string, index: number): void
}

/**
 * The list of sessions; one at a time expands to its windows (which keeps
 * `window-N` test ids unique). Renders what it is given, keeps which session
 * is expanded, and turns taps into the options' calls.
 */
export class SessionsList implements Disposable {
  readonly element = h('ul', { class: 'sessions', 'data-testid': 'sessions', 'aria-live': 'polite' })
  private readonly store = new DisposableStore()
  private shown: Shown | undefined
  private expandedName = readExpanded()

  constructor(private readonly options: SessionsListOptions) {
    // One delegated listener: the buttons are rebuilt on every repaint.
    this.store.listen(this.element, 'click', (event) => this.clicked(event))
    repaintAges(this.store, () => this.render())
  }

  /** The session whose windows are shown. */
  get expanded(): string | undefined {
    return this.expandedName
  }

  show(what: Shown): void {
    this.shown = what
    this.render()
  }

  /** Draws the same list again: unseen events changed, or time passed. */
  repaint(): void {
    this.render()
  }

  /** The server refused the list: says why where the list is. */
  showRefusal(message: string): void {
    this.shown = undefined
    this.element.replaceChildren(h('li', { class: 'error', role: 'alert' }, message))
  }

  /** Unreachable before any list came: the last known one, greyed and not openable. */
  showLastKnown(): void {
    this.element.replaceChildren(h('li', { class: 'stale-wrap' }, lastKnownList(readLastKnown())))
  }

  dispose(): void {
    this.store.dispose()
  }

  private render(): void {
    if (!this.shown) return
    const { sessions } = this.shown
    const items = sessions.map((s) => sessionRow(s, s.name === this.expandedName ? this.panelOf(s.name) : undefined, this.options))
    if (sessions.length === 0) {
      items.push(h('li', { class: 'empty' }, this.options.readOnly ? 'No tmux sessions to watch yet.' : 'No tmux sessions yet. Create one below.'))
    }
    // A busy window changes the list's data every second but rarely what it shows:
    // keep the same elements then, so a tap in progress lands and focus stays.
    const children = this.element.children
    if (items.length === children.length && items.every((item, i) => item.isEqualNode(children[i] ?? null))) return
    this.element.replaceChildren(...items)
  }

  private panelOf(session: string): WindowsPanel {
    const windows = this.shown?.windows[session]
    if (windows) return { windows }
    const failure = this.shown?.windowsError
    return failure?.session === session ? { error: failure.error } : 'loading'
  }

  /** Expands `session` (one just created, say), fetching its windows unless they are known. */
  reveal(session: string): void {
    this.expand(session)
    const known = this.shown?.windows[session] !== undefined
    // Not known, or not fetched last time: ask (again), showing "Loading…" meanwhile.
    if (!known && this.shown) this.shown = { ...this.shown, windowsError: undefined }
    this.render()
    if (!known) this.options.fetchWindows(session)
  }

  private toggle(session: string): void {
    if (this.expandedName !== session) return this.reveal(session)
    this.expand(undefined)
    this.render()
  }

  private expand(session: string | undefined): void {
    this.expandedName = session
    try {
      if (session === undefined) sessionStorage.removeItem(EXPANDED_KEY)
      else sessionStorage.setItem(EXPANDED_KEY, session)
    } catch {
      // Storage refused: it stays open only while the screen lives.
    }
  }

  private clicked(event: Event): void {
    const button = event.target instanceof Element ? event.target.closest('button') : null
    const session = button?.dataset.session
    if (!button || session === undefined) return
    const action = button.dataset.action
    const index = Number(button.dataset.window)
    // Destructive controls are never rendered for a read-only phone; refuse here too.
    if (this.options.readOnly && action !== undefined) return
    if (action === 'new-window') this.options.newWindow(session)
    else if (action === 'kill-session') {
      this.options.killSession(session, this.element.querySelectorAll(`button.window[data-session="${CSS.escape(session)}"]`).length)
    } else if (action === 'kill-window') this.options.killWindow(session, index)
    else if (button.classList.contains('session')) this.toggle(session)
    else this.options.open({ session, window: index })
  }
}

function readExpanded(): string | undefined {
  try {
    return sessionStorage.getItem(EXPANDED_KEY) ?? undefined
  } catch {
    return undefined
  }
}
