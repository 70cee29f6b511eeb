import {
  ApiError,
  createSession,
  createWindow,
  killSession,
  killWindow,
  listSessions,
  listWindows,
  type Device,
  type Session,
  type SessionsEventJson,
  type TmuxWindow,
} from './api.js'
import { formatDate, readOnlyBadge } from './device-ui.js'
import { h } from './dom.js'
import { hasLiveSessions, onSessions } from './events.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { notificationsPanel } from './notifications.js'
import { LOCK_CHOICES, lockAfterMinutes, setLockAfterMinutes, type LockMinutes } from './shell/lock.js'
import { ago, isUnreachable, lastKnownList, offlineBanner, readLastKnown, rememberSessions, RETRY, windowLabel } from './shell/offline.js'
import type { TerminalTarget } from './terminal/socket.js'

/** How often the "4 min ago" labels are redrawn: they age with no change in tmux to send. */
export const AGES_REPAINT_MS = 30_000
/** How far a pull from the top of the list must travel to refresh it. */
const PULL_PX = 70

/** A session, or one of its windows (`window` set), for the unseen-events hook. */
export type UnseenTarget = { session: string; window?: number }

export interface SessionsScreenOptions {
  /** The signed-in phone: its name, and whether it may change anything. */
  device: Device
  /** Shown above the list, e.g. why the last terminal ended. */
  notice?: string | undefined
  open(target: TerminalTarget): void
  signOut(): void
  /**
   * Unseen events of a session or window (notifications, bells), shown as a
   * badge; asked on every refresh. None when absent. With `latest`, the
   * newest event's text is the badge's tooltip (plain text).
   */
  unseen?: ((target: UnseenTarget) => number | { count: number; latest?: string | undefined }) | undefined
  /** Subscribes to changes of `unseen`; the list repaints on each. */
  unseenChanged?: ((refresh: () => void) => Disposable) | undefined
}

/**
 * The sessions list: each session expands to its windows (index, name or
 * pane title, command, folder, last activity); new sessions and windows; kill
 * with confirmation. Live: repainted from the event stream's sessions list
 * whenever tmux changes; fetched for the first paint, on pull, Refresh, after
 * an action and on coming back to the tab (the stream may not be open yet).
 * Never navigates away by itself. A read-only phone gets no destructive
 * control at all. Lives until disposed.
 */
export function mountSessionsScreen(parent: HTMLElement, options: SessionsScreenOptions): Disposable {
  const store = new DisposableStore()
  const { device } = options
  const readOnly = device.readOnly
  const list = h('ul', { class: 'sessions', 'data-testid': 'sessions', 'aria-live': 'polite' })
  const refresh = h('button', { type: 'button', class: 'quiet', 'data-testid': 'refresh' }, 'Refresh')
  const notice = h('div', { class: 'notices' })
  if (options.notice) notice.append(h('p', { class: 'notice', role: 'status', 'data-testid': 'notice' }, options.notice))
  const offline = h('div', { class: 'offline-slot' })
  const pull = h('div', { class: 'pull', 'aria-hidden': 'true', 'data-testid': 'pull' })
  const signOut = h('button', { type: 'button', class: 'quiet', 'data-testid': 'signout' }, 'Sign out')
  const dialog = confirmDialog(store)
  const screen = h(
    'section',
    { class: 'sessions-screen' },
    h('header', { class: 'app-bar' }, h('h1', {}, 'Handoff'), readOnlyBadge(device), h('span', { class: 'spacer' }), refresh),
    pull,
    offline,
    notice,
    list,
    newSessionForm(store, readOnly, (name) => load(name)),
    notificationsPanel(store),
    lockSetting(store),
    h(
      'footer',
      { class: 'device-bar' },
      h(
        'span',
        { class: 'muted', 'data-testid': 'device' },
        `This phone: ${device.name}`,
        device.expiresAt === null ? '' : ` · access until ${formatDate(device.expiresAt)}`,
      ),
      signOut,
    ),
    dialog.element,
  )
  parent.append(screen)
  store.defer(() => screen.remove())

  /** The session whose windows are shown; one at a time keeps `window-N` test ids unique. */
  let expanded: string | undefined
  /** Bumped per load and per live list, so a slow answer cannot overwrite a newer list. */
  let generation = 0
  /** Loads in a row that could not reach the computer; sets the backoff. */
  let unreachable = 0
  let everLoaded = false
  /** A retry after a failed load. */
  let next: Disposable | undefined
  /** What the list shows, to repaint it (badges, a session opened) without asking the server. */
  let shown: Shown | undefined

  /** Fetches the sessions, and the windows of the open one. */
  async function load(expand = expanded): Promise<void> {
    const current = ++generation
    next?.dispose()
    let sessions: Session[]
    let windows: TmuxWindow[] | undefined
    let windowsError: unknown
    try {
      sessions = await listSessions()
      expand = sessions.some((s) => s.name === expand) ? expand : undefined
      // Both answers land in one repaint, so a refresh never flashes "Loading…".
      if (expand !== undefined) windows = await listWindows(expand).catch((error: unknown) => void (windowsError = error))
    } catch (error) {
      if (current !== generation || store.isDisposed) return
      failed(error)
      return
    }
    if (current !== generation || store.isDisposed) return
    expanded = expand
    const known = expand !== undefined && windows ? { [expand]: windows } : {}
    reached(sessions, known)
    show({ sessions, windows: known, windowsError })
  }

  /** The stream's sessions list: every session with its windows, so any session opens without a fetch. */
  function live(event: SessionsEventJson): void {
    // Anything fetched before this is older than it; a retry after a failure is moot.
    ++generation
    next?.dispose()
    const sessions: Session[] = event.sessions.map(({ windowList: _, ...session }) => session)
    const windows = Object.fromEntries(event.sessions.map((s) => [s.name, s.windowList]))
    reached(sessions, windows)
    show({ sessions, windows })
  }

  /** The computer answered: no offline banner, and what it said is the last known list. */
  function reached(sessions: Session[], windows: Record<string, TmuxWindow[]>): void {
    unreachable = 0
    everLoaded = true
    offline.replaceChildren()
    rememberSessions(sessions, windows)
  }

  function show(what: Shown): void {
    shown = what
    const { sessions, windows, windowsError } = what
    if (!sessions.some((s) => s.name === expanded)) expanded = undefined
    const items = [
      ...sessions.map((s) => sessionItem(s, s.name === expanded ? (windows[s.name] ?? windowsError ?? []) : undefined)),
      ...(sessions.length === 0
        ? [h('li', { class: 'empty' }, readOnly ? 'No tmux sessions to watch yet.' : 'No tmux sessions yet. Create one below.')]
        : []),
    ]
    // A busy window changes the list's data every second but rarely what it shows:
    // keep the same elements then, so a tap in progress lands and focus stays.
    if (items.length === list.children.length && items.every((item, i) => item.isEqualNode(list.children[i] ?? null))) return
    list.replaceChildren(...items)
  }

  function failed(error: unknown): void {
    if (!isUnreachable(error)) {
      // The server answered with a refusal: say so where the list is, ask again slowly.
      shown = undefined
      list.replaceChildren(h('li', { class: 'error', role: 'alert' }, messageOf(error)))
      retryIn(RETRY.maxMs)
      return
    }
    // Unreachable: keep what is on screen (or the last known list), say so, back off.
    const delay = Math.min(RETRY.firstMs * 2 ** unreachable, RETRY.maxMs)
    unreachable++
    offline.replaceChildren(offlineBanner())
    if (!everLoaded) list.replaceChildren(h('li', { class: 'stale-wrap' }, lastKnownList(readLastKnown())))
    retryIn(delay)
  }

  /** Loads again after a failure, only while the page is visible (coming back loads at once). */
  function retryIn(ms: number): void {
    next?.dispose()
    if (document.visibilityState !== 'visible') return
    next = store.timeout(() => void load(), ms)
  }

  function sessionItem(session: Session, windows: TmuxWindow[] | unknown | undefined): HTMLLIElement {
    const open = windows !== undefined
    const attached = session.attached > 0 ? h('span', { class: 'badge', title: 'A tmux client (the computer) is on it' }, 'attached') : ''
    const button = h(
      'button',
      {
        type: 'button',
        class: 'session',
        'data-session': session.name,
        'data-testid': `session-${session.name}`,
        'aria-expanded': open ? 'true' : 'false',
      },
      h('span', { class: 'name' }, session.name),
      unseenBadge({ session: session.name }),
      attached,
      h('span', { class: 'meta' }, `${plural(session.windows, 'window')} · ${ago(session.activity)}`),
    )
    const item = h('li', { 'data-session': session.name }, button)
    if (open) item.append(windowsPanel(session, windows))
    return item
  }

  function windowsPanel(session: Session, windows: TmuxWindow[] | unknown): HTMLElement {
    const panel = h('ul', { class: 'windows', 'data-testid': 'windows' })
    if (!Array.isArray(windows)) panel.append(h('li', { class: 'error', role: 'alert' }, messageOf(windows)))
    else panel.append(...(windows as TmuxWindow[]).map((w) => windowItem(session.name, w)))
    if (!readOnly) {
      panel.append(
        h(
          'li',
          { class: 'session-actions' },
          h('button', { type: 'button', class: 'quiet', 'data-action': 'new-window', 'data-session': session.name, 'data-testid': 'new-window' }, '+ New window'),
          h(
            'button',
            { type: 'button', class: 'quiet danger', 'data-action': 'kill-session', 'data-session': session.name, 'data-testid': 'kill-session' },
            'Kill session…',
          ),
        ),
      )
    }
    return panel
  }

  function windowItem(session: string, window: TmuxWindow): HTMLLIElement {
    const button = h(
      'button',
      {
        type: 'button',
        class: 'window',
        'data-testid': `window-${window.index}`,
        'data-session': session,
        'data-window': window.index,
        'data-active': window.active,
        'aria-label': `Open window ${window.index}: ${windowLabel(window)}`,
      },
      h('span', { class: 'index' }, String(window.index)),
      h(
        'span',
        { class: 'label' },
        h('span', { class: 'name' }, windowLabel(window)),
        h('span', { class: 'meta' }, [window.command, lastFolder(window.path), ago(window.activity)].filter(Boolean).join(' · ')),
      ),
      unseenBadge({ session, window: window.index }),
    )
    const kill = readOnly
      ? ''
      : h(
          'button',
          {
            type: 'button',
            class: 'kill',
            'data-action': 'kill-window',
            'data-session': session,
            'data-window': window.index,
            'data-testid': `kill-window-${window.index}`,
            'aria-label': `Kill window ${window.index}`,
          },
          '×',
        )
    return h('li', { class: 'window-row' }, button, kill)
  }

  function unseenBadge(target: UnseenTarget): HTMLElement | string {
    const answer = options.unseen?.(target) ?? 0
    const { count, latest } = typeof answer === 'number' ? { count: answer, latest: undefined } : answer
    return count > 0
      ? h('span', { class: 'badge unseen', 'data-testid': 'unseen', 'aria-label': `${count} new`, title: latest }, String(count))
      : ''
  }

  function toggle(session: string): void {
    expanded = expanded === session ? undefined : session
    for (const button of list.querySelectorAll<HTMLButtonElement>('button.session')) {
      button.setAttribute('aria-expanded', String(button.dataset.session === expanded))
    }
    for (const panel of list.querySelectorAll('.windows')) panel.remove()
    if (expanded === undefined) return
    // The live list has every session's windows already.
    if (shown?.windows[session]) return show(shown)
    const item = [...list.children].find((li) => li instanceof HTMLElement && li.dataset.session === session)
    item?.append(h('ul', { class: 'windows', 'data-testid': 'windows' }, h('li', { class: 'empty' }, 'Loading…')))
    void load(expanded)
  }

  async function act(task: () => Promise<unknown>): Promise<void> {
    try {
      await task()
    } catch (error) {
      notice.replaceChildren(h('p', { class: 'notice error-notice', role: 'alert', 'data-testid': 'action-error' }, messageOf(error)))
    }
    // The stream brings the change by itself; without it, ask.
    if (!store.isDisposed && !hasLiveSessions()) await load()
  }

  // One delegated listener: the buttons are rebuilt on every repaint.
  store.listen(list, 'click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null
    const session = button?.dataset.session
    if (!button || session === undefined) return
    const action = button.dataset.action
    const index = Number(button.dataset.window)
    // Destructive controls are never rendered for a read-only phone; refuse here too.
    if (readOnly && action !== undefined) return
    if (action === 'new-window') void act(() => createWindow(session))
    else if (action === 'kill-session') {
      const count = list.querySelectorAll(`button.window[data-session="${CSS.escape(session)}"]`).length
      void dialog
        .ask(`Kill session “${session}”?`, `Its ${plural(count, 'window')} and everything running in them end. This cannot be undone.`, 'Kill session')
        .then((yes) => {
          if (yes) void act(() => killSession(session))
        })
    } else if (action === 'kill-window') {
      void dialog
        .ask(`Kill window ${session}:${index}?`, 'Everything running in it ends. This cannot be undone.', 'Kill window')
        .then((yes) => {
          if (yes) void act(() => killWindow(session, index))
        })
    } else if (button.classList.contains('session')) toggle(session)
    else options.open({ session, window: index })
  })
  store.listen(refresh, 'click', () => void load())
  store.listen(signOut, 'click', () => options.signOut())
  // Coming back to the tab (a phone unlocking) should not show stale sessions, even before the stream reopens; hidden, no retries.
  store.listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible') void load()
    else next?.dispose()
  })
  pullToRefresh(store, pull, () => void load())
  if (options.unseenChanged) store.add(options.unseenChanged(() => (shown ? show(shown) : void load())))
  // The first paint is fetched; the stream's list, once it comes (at once if already known), replaces it.
  // Should the stream fail, one fetch says what is wrong (offline, signed out) and retries as any load does.
  void load()
  store.add(onSessions(live, () => void load()))
  const repaintAges = (): void =>
    void store.timeout(() => {
      if (shown && document.visibilityState === 'visible') show(shown)
      repaintAges()
    }, AGES_REPAINT_MS)
  repaintAges()
  return store
}

/** What the list shows: the sessions and the windows known for them (from the stream: all of them). */
interface Shown {
  sessions: Session[]
  windows: Record<string, TmuxWindow[]>
  /** Why the open session's windows could not be fetched. */
  windowsError?: unknown
}

/**
 * Pull down from the top of the page to refresh, as native lists do; the
 * Refresh button does the same for those who do not know the gesture.
 */
function pullToRefresh(store: DisposableStore, indicator: HTMLElement, refresh: () => void): void {
  let startY: number | undefined
  let pulled = 0
  const reset = () => {
    startY = undefined
    pulled = 0
    indicator.textContent = ''
    indicator.style.height = ''
  }
  store.listen(document, 'touchstart', (event) => {
    const touch = (event as TouchEvent).touches[0]
    startY = window.scrollY <= 0 && touch && (event as TouchEvent).touches.length === 1 ? touch.clientY : undefined
  })
  store.listen(document, 'touchmove', (event) => {
    const touch = (event as TouchEvent).touches[0]
    if (startY === undefined || !touch) return
    pulled = Math.max(0, touch.clientY - startY)
    indicator.style.height = `${Math.min(pulled, PULL_PX * 1.5) / 2}px`
    indicator.textContent = pulled >= PULL_PX ? 'Release to refresh' : pulled > 10 ? 'Pull to refresh' : ''
  })
  store.listen(document, 'touchend', () => {
    if (pulled >= PULL_PX) refresh()
    reset()
  })
  store.listen(document, 'touchcancel', reset)
}

/** A modal question with Cancel and one destructive answer; never `confirm()`, which installed apps may not show. */
function confirmDialog(store: DisposableStore): { element: HTMLDialogElement; ask(title: string, body: string, action: string): Promise<boolean> } {
  const title = h('h2', { id: 'confirm-title' })
  const body = h('p', {})
  const cancel = h('button', { type: 'button', value: 'cancel', 'data-testid': 'confirm-cancel' }, 'Cancel')
  const yes = h('button', { type: 'button', value: 'yes', class: 'danger-fill', 'data-testid': 'confirm-yes' }, 'Kill')
  const element = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'confirm-title', 'data-testid': 'confirm-dialog' },
    title,
    body,
    h('div', { class: 'row' }, cancel, yes),
  )
  let answer: ((yes: boolean) => void) | undefined
  const settle = (value: boolean) => {
    const done = answer
    answer = undefined
    if (element.open) element.close()
    done?.(value)
  }
  store.listen(cancel, 'click', () => settle(false))
  store.listen(yes, 'click', () => settle(true))
  // Escape, or the system back gesture on Android, closes it: a no.
  store.listen(element, 'close', () => settle(false))
  store.defer(() => settle(false))
  return {
    element,
    ask(text, detail, action) {
      settle(false)
      title.textContent = text
      body.textContent = detail
      yes.textContent = action
      element.showModal()
      cancel.focus()
      return new Promise((resolve) => (answer = resolve))
    },
  }
}

/** "Lock when away": this phone's lock-on-resume setting (web/shell/lock.ts). */
function lockSetting(store: DisposableStore): HTMLElement {
  const current = lockAfterMinutes()
  const select = h('select', { 'data-testid': 'lock-setting', 'aria-label': 'Ask for the passkey after this long in the background' })
  for (const minutes of LOCK_CHOICES) {
    const option = h('option', { value: minutes }, minutes === 0 ? 'Off' : minutes === 60 ? 'After 1 hour away' : `After ${minutes} min away`)
    option.selected = minutes === current
    select.append(option)
  }
  store.listen(select, 'change', () => setLockAfterMinutes(Number(select.value) as LockMinutes))
  return h(
    'section',
    { class: 'settings' },
    h('label', { class: 'row' }, h('span', {}, 'Ask for the passkey'), select),
  )
}

function newSessionForm(store: DisposableStore, readOnly: boolean, created: (name: string) => Promise<void>): HTMLFormElement {
  const input = h('input', {
    name: 'name',
    required: true,
    maxlength: 64,
    pattern: '[A-Za-z0-9_\\-]{1,64}',
    placeholder: 'new-session',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    'aria-label': 'New session name',
    'data-testid': 'new-session-name',
  })
  const submit = h('button', { type: 'submit', 'data-testid': 'new-session-submit' }, 'New session')
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'new-session-error' })
  // The server refuses creation for a read-only phone anyway; say so up front.
  const fields = h('fieldset', { class: 'row', disabled: readOnly }, input, submit)
  const note = readOnly ? h('p', { class: 'muted' }, 'This phone is read-only: it can watch sessions but not create or end them.') : ''
  const form = h('form', { class: 'new-session', 'data-testid': 'new-session' }, fields, note, error)

  store.listen(form, 'submit', async (event) => {
    event.preventDefault()
    error.textContent = ''
    submit.disabled = true
    try {
      const session = await createSession(input.value.trim())
      input.value = ''
      await created(session.name)
    } catch (failure) {
      error.textContent = messageOf(failure)
    } finally {
      submit.disabled = false
    }
  })
  return form
}

function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message
  return `Something went wrong: ${String(error)}`
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** `/home/me/src/app` → `app`; the root stays `/`. */
function lastFolder(path: string): string {
  return path.split('/').filter(Boolean).at(-1) ?? (path ? '/' : '')
}
