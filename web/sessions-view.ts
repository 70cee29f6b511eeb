import { createWindow, killSession, killWindow, type Device } from './api.js'
import { formatDate, readOnlyBadge } from './device-ui.js'
import { h } from './dom.js'
import { hasLiveSessions, type UnseenEvents } from './events.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { offlineBanner } from './shell/offline.js'
import { confirmDialog } from './sessions/confirm.js'
import { SessionsFeed } from './sessions/feed.js'
import { SessionsList } from './sessions/list.js'
import { lockSetting } from './sessions/lock-setting.js'
import { newSessionForm } from './sessions/new-session.js'
import { notificationsSwitch } from './sessions/notifications-switch.js'
import { pullToRefresh } from './sessions/pull.js'
import { messageOf, plural } from './sessions/text.js'
import type { TerminalTarget } from './terminal/socket.js'

export interface SessionsScreenOptions {
  /** The signed-in phone: its name, and whether it may change anything. */
  device: Device
  /** Shown above the list, e.g. why the last terminal ended. */
  notice?: string | undefined
  /** Unseen events (badges with the newest event's text); the list repaints when they change. None when absent. */
  unseen?: Pick<UnseenEvents, 'badge' | 'onChange'> | undefined
  open(target: TerminalTarget): void
  openInbox(): void
  signOut(): void
}

/**
 * The sessions screen: the list of sessions (each expands to its windows;
 * web/sessions/list.ts), fed live from the event stream and fetched when
 * that cannot say (web/sessions/feed.ts); new sessions and windows, kill
 * with confirmation; the inbox's entry; the notifications switch, the lock
 * setting and this phone's name. Never navigates away by itself. A
 * read-only phone gets no control that changes anything. Lives until disposed.
 */
export function mountSessionsScreen(parent: HTMLElement, options: SessionsScreenOptions): Disposable {
  const store = new DisposableStore()
  const { device } = options
  const readOnly = device.readOnly
  const inbox = h('button', { type: 'button', class: 'quiet', 'data-testid': 'inbox-open' }, 'Inbox')
  const refresh = h('button', { type: 'button', class: 'quiet', 'data-testid': 'refresh' }, 'Refresh')
  const notice = h('div', { class: 'notices' })
  if (options.notice) notice.append(h('p', { class: 'notice', role: 'status', 'data-testid': 'notice' }, options.notice))
  const offline = h('div', { class: 'offline-slot' })
  const pull = h('div', { class: 'pull', 'aria-hidden': 'true', 'data-testid': 'pull' })
  const signOut = h('button', { type: 'button', class: 'quiet', 'data-testid': 'signout' }, 'Sign out')
  const dialog = confirmDialog(store)

  /** Runs a change the user asked for; says if it failed. The stream brings the result by itself; without it, ask. */
  const act = async (task: () => Promise<unknown>): Promise<void> => {
    try {
      await task()
    } catch (error) {
      notice.replaceChildren(h('p', { class: 'notice error-notice', role: 'alert', 'data-testid': 'action-error' }, messageOf(error)))
    }
    if (!store.isDisposed && !hasLiveSessions()) await feed.load()
  }
  /** Asks first; runs `task` only on yes. */
  const confirmThen = (question: string, detail: string, answer: string, task: () => Promise<unknown>): void =>
    void dialog.ask(question, detail, answer).then((yes) => (yes ? act(task) : undefined))

  const list = store.add(
    new SessionsList({
      readOnly,
      badge: (query) => options.unseen?.badge(query) ?? { count: 0 },
      open: options.open,
      fetchWindows: (session) => void feed.load(session),
      // A new window is made to be used: open it.
      newWindow: (session) => void act(async () => options.open({ session, window: (await createWindow(session)).index })),
      killSession: (session, windows) =>
        confirmThen(`Kill session “${session}”?`, `Its ${plural(windows, 'window')} and everything running in them end. This cannot be undone.`, 'Kill session', () =>
          killSession(session),
        ),
      killWindow: (session, index) =>
        confirmThen(`Kill window ${session}:${index}?`, 'Everything running in it ends. This cannot be undone.', 'Kill window', () => killWindow(session, index)),
    }),
  )
  const feed = store.add(
    new SessionsFeed({
      expanded: () => list.expanded,
      shown: (what) => {
        offline.replaceChildren()
        list.show(what)
      },
      refused: (error) => list.showRefusal(messageOf(error)),
      // Keep what is on screen (or the last known list) and say so.
      unreachable: (before) => {
        offline.replaceChildren(offlineBanner())
        if (!before) list.showLastKnown()
      },
    }),
  )

  const screen = h(
    'section',
    { class: 'sessions-screen' },
    h('header', { class: 'app-bar' }, h('h1', {}, 'Handoff'), readOnlyBadge(device), h('span', { class: 'spacer' }), inbox, refresh),
    pull,
    offline,
    notice,
    list.element,
    newSessionForm(store, readOnly, (name) => list.reveal(name)),
    notificationsSwitch(store),
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

  store.listen(inbox, 'click', () => options.openInbox())
  store.listen(refresh, 'click', () => void feed.load())
  store.listen(signOut, 'click', () => options.signOut())
  pullToRefresh(store, pull, () => void feed.load())
  if (options.unseen) store.add(options.unseen.onChange(() => list.repaint()))
  return store
}
