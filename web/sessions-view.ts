import { ApiError, createSession, listSessions, listWindows, type Device, type Session, type TmuxWindow } from './api.js'
import { formatDate, readOnlyBadge } from './device-ui.js'
import { h } from './dom.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { notificationsPanel } from './notifications.js'
import type { TerminalTarget } from './term-socket.js'

export interface SessionsScreenOptions {
  /** The signed-in phone: its name, and whether it may change anything. */
  device: Device
  /** Shown above the list, e.g. why the last terminal ended. */
  notice?: string | undefined
  open(target: TerminalTarget): void
  signOut(): void
}

/**
 * The sessions list: each session expands to its windows, and a form
 * creates a new session. Lives until the returned handle is disposed.
 */
export function mountSessionsScreen(parent: HTMLElement, options: SessionsScreenOptions): Disposable {
  const store = new DisposableStore()
  const list = h('ul', { class: 'sessions', 'data-testid': 'sessions', 'aria-live': 'polite' })
  const refresh = h('button', { type: 'button', class: 'quiet', 'data-testid': 'refresh' }, 'Refresh')
  const notice = options.notice
    ? h('p', { class: 'notice', role: 'status', 'data-testid': 'notice' }, options.notice)
    : ''
  const { device } = options
  const signOut = h('button', { type: 'button', class: 'quiet', 'data-testid': 'signout' }, 'Sign out')
  const screen = h(
    'section',
    { class: 'sessions-screen' },
    h('header', { class: 'app-bar' }, h('h1', {}, 'Handoff'), readOnlyBadge(device), h('span', { class: 'spacer' }), refresh),
    notice,
    list,
    newSessionForm(store, device.readOnly, (name) => load(name)),
    notificationsPanel(store),
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
  )
  parent.append(screen)
  store.defer(() => screen.remove())

  /** The session whose windows are shown; one at a time keeps `window-N` test ids unique. */
  let expanded: string | undefined
  /** Bumped per load so a slow answer cannot overwrite a newer one. */
  let generation = 0

  async function load(expand = expanded): Promise<void> {
    const current = ++generation
    let sessions: Session[]
    try {
      sessions = await listSessions()
    } catch (error) {
      if (current !== generation || store.isDisposed) return
      list.replaceChildren(h('li', { class: 'error', role: 'alert' }, messageOf(error)))
      return
    }
    if (current !== generation || store.isDisposed) return
    expanded = sessions.some((s) => s.name === expand) ? expand : undefined
    list.replaceChildren(
      ...sessions.map((s) => sessionItem(s)),
      ...(sessions.length === 0 ? [h('li', { class: 'empty' }, 'No tmux sessions yet. Create one below.')] : []),
    )
    if (expanded !== undefined) void showWindows(expanded)
  }

  function sessionItem(session: Session): HTMLLIElement {
    const badge = session.attached > 0 ? h('span', { class: 'badge' }, 'attached') : ''
    const button = h(
      'button',
      {
        type: 'button',
        class: 'session',
        'data-session': session.name,
        'data-testid': `session-${session.name}`,
        'aria-expanded': session.name === expanded ? 'true' : 'false',
      },
      h('span', { class: 'name' }, session.name),
      h('span', { class: 'meta' }, plural(session.windows, 'window')),
      badge,
    )
    return h('li', { 'data-session': session.name }, button)
  }

  async function showWindows(session: string): Promise<void> {
    const item = [...list.children].find((li) => li instanceof HTMLElement && li.dataset.session === session)
    if (!item) return
    const panel = h('ul', { class: 'windows', 'data-testid': 'windows' }, h('li', { class: 'empty' }, 'Loading…'))
    item.append(panel)
    let windows: TmuxWindow[]
    try {
      windows = await listWindows(session)
    } catch (error) {
      panel.replaceChildren(h('li', { class: 'error', role: 'alert' }, messageOf(error)))
      return
    }
    panel.replaceChildren(...windows.map((w) => windowItem(session, w)))
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
      },
      h('span', { class: 'index' }, String(window.index)),
      h('span', { class: 'name' }, window.title || window.name),
      h('span', { class: 'meta' }, [window.command, lastFolder(window.path)].filter(Boolean).join(' · ')),
    )
    return h('li', {}, button)
  }

  function toggle(session: string): void {
    expanded = expanded === session ? undefined : session
    for (const button of list.querySelectorAll<HTMLButtonElement>('button.session')) {
      button.setAttribute('aria-expanded', String(button.dataset.session === expanded))
    }
    for (const panel of list.querySelectorAll('.windows')) panel.remove()
    if (expanded !== undefined) void showWindows(expanded)
  }

  // One delegated listener: the buttons are rebuilt on every load.
  store.listen(list, 'click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null
    const session = button?.dataset.session
    if (!button || session === undefined) return
    if (button.classList.contains('session')) toggle(session)
    else options.open({ session, window: Number(button.dataset.window) })
  })
  store.listen(refresh, 'click', () => void load())
  store.listen(signOut, 'click', () => options.signOut())
  // Coming back to the tab (a phone unlocking) should not show stale sessions.
  store.listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible') void load()
  })
  void load()
  return store
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
  const note = readOnly ? h('p', { class: 'muted' }, 'This phone is read-only: it can watch sessions but not create them.') : ''
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
