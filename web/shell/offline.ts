import { ApiError, type Session, type TmuxWindow } from '../api.js'
import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'

/** What the phone last saw, so an unreachable computer still shows something useful. */
export interface LastKnown {
  /** When the list was fetched, ms since the epoch. */
  at: number
  sessions: Session[]
  /** Windows of the sessions the user opened, by session name. */
  windows: Record<string, TmuxWindow[]>
}

/** localStorage key; the value is JSON `LastKnown`. Session names only, never a secret. */
const LAST_KNOWN_KEY = 'handoff.lastKnown'

/**
 * Retry delays while the computer is unreachable: 250 ms doubling to 1 s, so
 * it is seen within a second of coming back; a network change or a return to
 * the page retries at once.
 */
export const RETRY = { firstMs: 250, maxMs: 1_000 } as const

/** Reads the last known sessions; undefined when none were stored or the value is damaged. */
export function readLastKnown(): LastKnown | undefined {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(LAST_KNOWN_KEY) ?? 'null')
    if (typeof value !== 'object' || value === null) return undefined
    const { at, sessions, windows } = value as Partial<LastKnown>
    if (typeof at !== 'number' || !Array.isArray(sessions)) return undefined
    return { at, sessions, windows: typeof windows === 'object' && windows !== null ? windows : {} }
  } catch {
    return undefined
  }
}

/** Remembers a fresh `/api/sessions` answer, and the windows of sessions fetched with it. */
export function rememberSessions(sessions: Session[], windows: Record<string, TmuxWindow[]> = {}, now = Date.now()): void {
  const previous = readLastKnown()?.windows ?? {}
  const kept: Record<string, TmuxWindow[]> = {}
  // Windows of a session that still exists stay known until that session is opened again.
  for (const s of sessions) {
    const w = windows[s.name] ?? previous[s.name]
    if (w) kept[s.name] = w
  }
  write({ at: now, sessions, windows: kept })
}

/** Forgets everything (signing out: the next person to hold the phone sees nothing). */
export function forgetLastKnown(): void {
  try {
    localStorage.removeItem(LAST_KNOWN_KEY)
  } catch {
    // Storage disabled: nothing was stored either.
  }
}

function write(value: LastKnown): void {
  try {
    localStorage.setItem(LAST_KNOWN_KEY, JSON.stringify(value))
  } catch {
    // Full or disabled storage: the offline view will just have less to show.
  }
}

/**
 * True when a failed request never reached Handoff: no network, the server
 * stopped, or a proxy in front of it (Tailscale Serve) answering 502-504
 * without Handoff's JSON error body.
 */
export function isUnreachable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false
  return error.code === 'NETWORK_ERROR' || error.code === 'HTTP_502' || error.code === 'HTTP_503' || error.code === 'HTTP_504'
}

/**
 * The computer's name as the address bar shows it: `laptop` for
 * `laptop.tail1234.ts.net`, an IP address or `localhost` as they are.
 */
export function computerName(hostname = location.hostname): string {
  if (/^[\d.]+$/.test(hostname) || hostname.includes(':') || hostname.startsWith('[')) return hostname
  return hostname.split('.')[0] || hostname
}

/** "Can't reach laptop — retrying", the one line every unreachable state shows. */
export function unreachableText(hostname = location.hostname): string {
  return `Can’t reach ${computerName(hostname)} — retrying`
}

/** "just now", "4 min ago", "3 h ago", "2 d ago", from Unix seconds or ms (`unit`). */
export function ago(then: number, now = Date.now(), unit: 's' | 'ms' = 's'): string {
  const seconds = Math.max(0, Math.round((now - (unit === 's' ? then * 1000 : then)) / 1000))
  if (seconds < 45) return 'just now'
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min ago`
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`
  return `${Math.round(seconds / 86_400)} d ago`
}

/**
 * The pane title when a program set one ("Claude Code", "app.ts - VIM"),
 * else the window's name. tmux's default title is the host name, one word
 * and the same in every window, so a one-word title loses to the name.
 */
export function windowLabel(window: Pick<TmuxWindow, 'name' | 'title'>): string {
  const title = window.title.trim()
  return title && title !== window.name && /\s/.test(title) ? title : window.name || title
}

/**
 * Calls `attempt` until it succeeds, waiting RETRY.firstMs doubling to
 * RETRY.maxMs between tries; coming back online or to the tab retries at
 * once. `attempt` answers true when done. Stops when disposed.
 */
export function retryWithBackoff(attempt: () => Promise<boolean>, onWait: (ms: number) => void = () => {}): Disposable & { now(): void } {
  const store = new DisposableStore()
  let failures = 0
  let timer: Disposable | undefined
  let running = false
  /** Asked to try while a try was under way: try again as soon as it fails. */
  let again = false

  const tryOnce = async () => {
    if (store.isDisposed) return
    if (running) {
      again = true
      return
    }
    running = true
    again = false
    timer?.dispose()
    timer = undefined
    let done = false
    try {
      done = await attempt()
    } catch {
      done = false
    }
    running = false
    if (done || store.isDisposed) return
    if (again) return void tryOnce()
    const delay = Math.min(RETRY.firstMs * 2 ** failures, RETRY.maxMs)
    failures++
    onWait(delay)
    timer = store.timeout(() => void tryOnce(), delay)
  }
  store.listen(window, 'online', () => void tryOnce())
  store.listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible') void tryOnce()
  })
  void tryOnce()
  return {
    dispose: () => store.dispose(),
    // A tap on "Retry now" starts the backoff afresh.
    now: () => {
      failures = 0
      void tryOnce()
    },
  }
}

export interface OfflineScreenOptions {
  /** Asks the server again; true when it answered (the screen is then replaced). */
  check(): Promise<boolean>
}

/**
 * What a cold start shows when the computer does not answer: the last known
 * sessions (not openable until it does) and a retry with backoff, instead
 * of a browser error page.
 */
export function mountOfflineScreen(parent: HTMLElement, options: OfflineScreenOptions): Disposable {
  const store = new DisposableStore()
  const status = h('span', { class: 'muted next-try', 'data-testid': 'offline-next' })
  const retry = h('button', { type: 'button', class: 'quiet', 'data-testid': 'offline-retry' }, 'Retry now')
  const screen = h(
    'section',
    { class: 'sessions-screen', 'data-testid': 'offline' },
    h('header', { class: 'app-bar' }, h('h1', {}, 'Handoff'), h('span', { class: 'spacer' }), retry),
    offlineBanner(status),
    lastKnownList(readLastKnown()),
  )
  parent.append(screen)
  store.defer(() => screen.remove())
  const retrying = store.add(
    retryWithBackoff(options.check, (ms) => {
      status.textContent = `Next try in ${Math.round(ms / 1000)} s.`
    }),
  )
  store.listen(retry, 'click', () => retrying.now())
  return store
}

/** The "Can't reach COMPUTER — retrying" line; `extra` follows it (the next try). */
export function offlineBanner(extra: Node | string = ''): HTMLElement {
  return h('p', { class: 'notice offline', role: 'status', 'data-testid': 'offline-banner' }, unreachableText(), extra)
}

/** The last known sessions, read-only: a list to recognise, nothing to tap. */
export function lastKnownList(known: LastKnown | undefined): HTMLElement {
  if (!known || known.sessions.length === 0) {
    return h('p', { class: 'muted', 'data-testid': 'last-known-none' }, 'No sessions seen on this phone yet.')
  }
  return h(
    'section',
    { class: 'last-known', 'data-testid': 'last-known' },
    h('p', { class: 'muted' }, `Last seen ${ago(known.at, Date.now(), 'ms')}:`),
    h(
      'ul',
      { class: 'sessions stale' },
      ...known.sessions.map((s) =>
        h(
          'li',
          { 'data-testid': `last-session-${s.name}` },
          h(
            'div',
            { class: 'session stale-row' },
            h('span', { class: 'name' }, s.name),
            h('span', { class: 'meta' }, `${s.windows} window${s.windows === 1 ? '' : 's'} · ${ago(s.activity)}`),
          ),
          ...(known.windows[s.name]?.length
            ? [
                h(
                  'ul',
                  { class: 'windows' },
                  ...(known.windows[s.name] ?? []).map((w) =>
                    h(
                      'li',
                      { class: 'window stale-row' },
                      h('span', { class: 'index' }, String(w.index)),
                      h('span', { class: 'name' }, windowLabel(w)),
                      h('span', { class: 'meta' }, w.command),
                    ),
                  ),
                ),
              ]
            : []),
        ),
      ),
    ),
  )
}
