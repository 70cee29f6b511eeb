import type { TmuxControl } from './connection.js'
import type { Session, Tmux, Window } from './tmux.js'

/** One session with its windows (by index), as `Tmux.listAll()` gives them. */
export interface SessionWithWindows {
  session: Session
  windows: Window[]
}

/** Called with every session and its windows, sorted by name. */
export type SessionsListener = (all: readonly SessionWithWindows[]) => void

export const LIVE_SESSIONS_LIMITS = {
  /** After a failed list, ask tmux again this long later (ms), while anyone listens. */
  retryMs: 1_000,
} as const

export interface LiveSessionsOptions {
  retryMs?: number
  log?: (line: string) => void
}

/**
 * The sessions list, live: while anyone subscribes, a control client stays
 * attached (with tmux's once-a-second check of what the list shows), and each
 * change tmux reports is answered with one `list-windows -a` over it, so no
 * process is started per change. Listeners hear only lists that differ from
 * the last one sent.
 */
export class LiveSessions {
  private readonly listeners = new Set<SessionsListener>()
  /** What listeners were last told, as JSON for comparing; undefined until the first list of this subscription. */
  private lastJson: string | undefined
  private last: readonly SessionWithWindows[] | undefined
  private releaseHold: (() => void) | undefined
  private stopListening: (() => void) | undefined
  private running = false
  /** A change arrived while a list was being fetched: fetch once more after it. */
  private again = false
  private retryTimer: NodeJS.Timeout | undefined
  private readonly retryMs: number
  private readonly log: (line: string) => void

  constructor(
    private readonly control: Pick<TmuxControl, 'hold' | 'onChange'>,
    private readonly tmux: Pick<Tmux, 'listAll'>,
    options: LiveSessionsOptions = {},
  ) {
    this.retryMs = options.retryMs ?? LIVE_SESSIONS_LIMITS.retryMs
    this.log = options.log ?? (() => {})
  }

  /**
   * Calls `listener` with the current list (soon: at once when one is known,
   * else when tmux answers), then with every list that differs. Returns the
   * unsubscribe; the last one lets tmux go.
   */
  subscribe(listener: SessionsListener): () => void {
    // A function added twice would be removed by the first unsubscribe: wrap it, so each subscription is its own.
    const own: SessionsListener = (all) => listener(all)
    this.listeners.add(own)
    if (this.listeners.size === 1) this.start()
    else if (this.last) {
      const known = this.last
      // Asynchronously, as for the first subscriber: the caller has its unsubscribe before the first call.
      queueMicrotask(() => {
        if (this.listeners.has(own)) this.call(own, known)
      })
    }
    let subscribed = true
    return () => {
      if (!subscribed) return
      subscribed = false
      this.listeners.delete(own)
      if (this.listeners.size === 0) this.stop()
    }
  }

  private start(): void {
    this.stopListening = this.control.onChange(() => void this.refresh())
    this.releaseHold = this.control.hold()
    void this.refresh()
  }

  private stop(): void {
    this.stopListening?.()
    this.releaseHold?.()
    this.stopListening = this.releaseHold = undefined
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    // Nobody hears changes now: what is cached goes stale, and the next subscriber asks afresh.
    this.last = this.lastJson = undefined
  }

  /** Lists once, or, while a list is under way, once more after it: never two at a time. */
  private async refresh(): Promise<void> {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    try {
      do {
        this.again = false
        await this.listOnce()
      } while (this.again && this.listeners.size > 0)
    } finally {
      this.running = false
    }
  }

  private async listOnce(): Promise<void> {
    let all: SessionWithWindows[]
    try {
      all = await this.tmux.listAll()
    } catch (err) {
      this.log(`tmux: the live sessions list failed: ${err instanceof Error ? err.message : String(err)}`)
      this.retryLater()
      return
    }
    if (this.listeners.size === 0) return
    this.publish(all)
  }

  /** Tells every listener, unless the list is what they were last told. */
  private publish(all: SessionWithWindows[]): void {
    const json = JSON.stringify(all)
    if (json === this.lastJson) return
    this.lastJson = json
    this.last = all
    for (const listener of [...this.listeners]) this.call(listener, all)
  }

  private call(listener: SessionsListener, all: readonly SessionWithWindows[]): void {
    try {
      listener(all)
    } catch (err) {
      // One listener's failure (a stream that broke) must not keep the list from the others.
      this.log(`live sessions listener failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  /** A failed list (tmux timed out, say) is asked again, so listeners do not wait for the next change. */
  private retryLater(): void {
    if (this.retryTimer || this.listeners.size === 0) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (this.listeners.size > 0) void this.refresh()
    }, this.retryMs)
    this.retryTimer.unref()
  }
}
