import { listSessions, listWindows, type Session, type SessionsEventJson, type TmuxWindow } from '../api.js'
import { onSessions } from '../events.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { isUnreachable, rememberSessions, RETRY } from '../shell/offline.js'
import type { Shown } from './list.js'

/** Where the feed's lists and failures go. */
export interface SessionsFeedView {
  /** The session whose windows to fetch with the list. */
  expanded(): string | undefined
  /** A list from the computer, fetched or live: it answered. */
  shown(what: Shown): void
  /** The computer answered with a refusal; asked again slowly. */
  refused(error: unknown): void
  /** No answer; `before` says whether a list ever came in this screen's life. */
  unreachable(before: boolean): void
}

/**
 * Where the sessions screen's list comes from: the event stream's live list
 * whenever tmux changes it, and fetches (`GET /api/sessions` and the open
 * session's windows) for the first paint, on `load()` (Refresh, pull, after
 * an action), on coming back to the page, and once when the stream fails.
 * Failures retry: slowly after a refusal, with backoff while unreachable,
 * and only while the page is visible. There is no polling.
 */
export class SessionsFeed implements Disposable {
  private readonly store = new DisposableStore()
  /** Bumped per load and per live list, so a slow answer cannot overwrite a newer list. */
  private generation = 0
  /** Loads in a row that could not reach the computer; sets the backoff. */
  private unreachableLoads = 0
  private everLoaded = false
  /** A retry after a failed load. */
  private next: Disposable | undefined

  constructor(private readonly view: SessionsFeedView) {
    // Coming back to the tab (a phone unlocking) should not show stale sessions, even before the stream reopens; hidden, no retries.
    this.store.listen(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible') void this.load()
      else this.next?.dispose()
    })
    // The first paint is fetched; the stream's list, once it comes (at once if already known), replaces it.
    // Should the stream fail, one fetch says what is wrong (offline, signed out) and retries as any load does.
    void this.load()
    this.store.add(onSessions((event) => this.live(event), () => void this.load()))
  }

  /** Fetches the sessions, and the windows of `expand` (the expanded session by default). */
  async load(expand = this.view.expanded()): Promise<void> {
    const current = ++this.generation
    this.next?.dispose()
    let sessions: Session[]
    let windows: TmuxWindow[] | undefined
    let windowsError: unknown
    try {
      sessions = await listSessions()
      const open = sessions.some((s) => s.name === expand) ? expand : undefined
      // Both answers land in one repaint, so a refresh never flashes "Loading…".
      if (open !== undefined) windows = await listWindows(open).catch((error: unknown) => void (windowsError = error))
    } catch (error) {
      if (current === this.generation && !this.store.isDisposed) this.failed(error)
      return
    }
    if (current !== this.generation || this.store.isDisposed) return
    const known = expand !== undefined && windows ? { [expand]: windows } : {}
    this.reached(sessions, known)
    this.view.shown({
      sessions,
      windows: known,
      windowsError: expand !== undefined && windowsError !== undefined ? { session: expand, error: windowsError } : undefined,
    })
  }

  dispose(): void {
    this.store.dispose()
  }

  /** The stream's sessions list: every session with its windows, so any session opens without a fetch. */
  private live(event: SessionsEventJson): void {
    // Anything fetched before this is older than it; a retry after a failure is moot.
    ++this.generation
    this.next?.dispose()
    const sessions: Session[] = event.sessions.map(({ windowList: _, ...session }) => session)
    const windows = Object.fromEntries(event.sessions.map((s) => [s.name, s.windowList]))
    this.reached(sessions, windows)
    this.view.shown({ sessions, windows })
  }

  /** The computer answered: what it said is the last known list. */
  private reached(sessions: Session[], windows: Record<string, TmuxWindow[]>): void {
    this.unreachableLoads = 0
    this.everLoaded = true
    rememberSessions(sessions, windows)
  }

  private failed(error: unknown): void {
    if (!isUnreachable(error)) {
      // The server answered with a refusal: ask again slowly.
      this.view.refused(error)
      this.retryIn(RETRY.maxMs)
      return
    }
    // Unreachable: back off.
    const delay = Math.min(RETRY.firstMs * 2 ** this.unreachableLoads, RETRY.maxMs)
    this.unreachableLoads++
    this.view.unreachable(this.everLoaded)
    this.retryIn(delay)
  }

  /** Loads again after a failure, only while the page is visible (coming back loads at once). */
  private retryIn(ms: number): void {
    this.next?.dispose()
    if (document.visibilityState !== 'visible') return
    this.next = this.store.timeout(() => void this.load(), ms)
  }
}
