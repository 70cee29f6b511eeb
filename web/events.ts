import { ApiError, me, type Device, type SessionsEventJson } from './api.js'
import { toDisposable, type Disposable } from './lifetime.js'

// Unseen events: the live event stream (GET /api/events, docs/notifications.md)
// counted per tab, kept in localStorage, and shown as badges on the sessions
// screen. The state and its changes are pure functions; `UnseenEvents` wires
// them to an EventSource, localStorage and the page's visibility. The same
// stream carries the live sessions list (`event: sessions`), which screens
// follow with `onSessions`.

/** What is kept, and how the stream is retried. */
export const UNSEEN_LIMITS = {
  /** Tabs with unseen events kept; past it the one updated longest ago is dropped. */
  tabs: 50,
  /** Unseen events counted per tab; more still show this number. */
  countPerTab: 999,
  /** Characters of the latest event's title or message kept for the badge's tooltip. */
  textChars: 200,
  /** Event ids remembered, so a replay after a reconnect (or another browser tab) is not counted twice. */
  rememberedIds: 200,
  /** First wait before reopening a stream the server refused or cut, doubled per failure. */
  retryFirstMs: 2_000,
  retryMaxMs: 60_000,
  /** Changes arriving together (a replay on connect) repaint the badges once. */
  coalesceMs: 50,
} as const

/** A tmux window an event points at: both parts, as the server's push tag (`tab:SESSION:WINDOW`). */
export interface Tab {
  session: string
  window: number
}

/** One event of the stream, as much of it as the badges and the inbox use. */
export interface StreamEvent {
  id: number
  /** When it happened (ISO 8601). */
  ts?: string
  type: string
  message: string
  title?: string
  /** Absent for an event without a tab (it opens the sessions list). */
  tab?: Tab
  /** The labels of the choices it offers (an answer is typed into its pane), when it offers any. */
  choices?: string[]
}

/** Unseen events of one tab, or (`tab` absent) of events without a tab. */
export interface UnseenEntry {
  tab?: Tab
  count: number
  /** The newest event's id and its message, or title when the message is empty: plain text. */
  latestId: number
  latest: string
}

export interface UnseenState {
  /** The highest event id handled (or the server's `last_id`); null until the stream was first ready. */
  lastId: number | null
  /** Recently handled ids, oldest first. */
  ids: number[]
  /** Ids at or below this were forgotten from `ids`: treated as handled. */
  floor: number
  /** Least recently updated first. */
  entries: UnseenEntry[]
}

/** A session (its windows' sum) or one of its windows: what a badge asks about. */
export interface UnseenQuery {
  session: string
  window?: number | undefined
}

/** What a badge shows: the count, and the latest event's text for its tooltip. */
export interface UnseenBadge {
  count: number
  latest?: string | undefined
}

export const emptyState = (): UnseenState => ({ lastId: null, ids: [], floor: 0, entries: [] })

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const sameTab = (a: Tab | undefined, b: Tab | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.session === b.session && a.window === b.window

function clip(text: string): string {
  const points = [...text]
  return points.length <= UNSEEN_LIMITS.textChars ? text : `${points.slice(0, UNSEEN_LIMITS.textChars - 1).join('')}…`
}

/**
 * Parses one SSE message of the stream; undefined for anything that is not
 * an event (malformed JSON, a missing id or message), which is then ignored.
 */
export function parseEvent(data: string): StreamEvent | undefined {
  try {
    return eventFrom(JSON.parse(data))
  } catch {
    return undefined
  }
}

/**
 * One event from its JSON (the stream's, or `GET /api/events/recent`'s);
 * undefined when it is not one. A session without a window index is no
 * tab, as in the server's push tag.
 */
export function eventFrom(raw: unknown): StreamEvent | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined
  const e = raw as Record<string, unknown>
  if (!isId(e.id) || typeof e.type !== 'string' || typeof e.message !== 'string') return undefined
  const event: StreamEvent = { id: e.id, type: e.type, message: e.message }
  if (typeof e.ts === 'string') event.ts = e.ts
  if (typeof e.title === 'string' && e.title !== '') event.title = e.title
  if (typeof e.tmux_session === 'string' && e.tmux_session !== '' && isIndex(e.tmux_window)) {
    event.tab = { session: e.tmux_session, window: e.tmux_window }
  }
  const labels = Array.isArray(e.choices) ? e.choices.flatMap((c: unknown) => (isRecord(c) && typeof c.label === 'string' ? [c.label] : [])) : []
  if (labels.length > 0) event.choices = labels
  return event
}

/** The `last_id` of an `event: ready` message; undefined if malformed. */
export function parseReady(data: string): number | undefined {
  try {
    const raw: unknown = JSON.parse(data)
    const lastId = typeof raw === 'object' && raw !== null ? (raw as { last_id?: unknown }).last_id : undefined
    return isIndex(lastId) ? lastId : undefined
  } catch {
    return undefined
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isSessionEntry = (v: unknown): boolean =>
  isRecord(v) && typeof v.name === 'string' && isIndex(v.windows) && Array.isArray(v.windowList) && v.windowList.every(isRecord)

/**
 * The data of an `event: sessions` message; undefined if it is not that
 * shape (then ignored, and the screen keeps what it shows).
 */
export function parseSessions(data: string): SessionsEventJson | undefined {
  let raw: unknown
  try {
    raw = JSON.parse(data)
  } catch {
    return undefined
  }
  if (!isRecord(raw) || raw.type !== 'sessions' || !Array.isArray(raw.sessions) || !raw.sessions.every(isSessionEntry)) return undefined
  return raw as unknown as SessionsEventJson
}

/** Whether `id` was handled already (a replay after a reconnect, or another browser tab's stream). */
export const hasSeen = (state: UnseenState, id: number): boolean => id <= state.floor || state.ids.includes(id)

/**
 * Counts `event` as unseen on its tab, unless the user is looking at that tab
 * right now (`viewing`: a tab, or `'sessions'` for events without one). A
 * repeated id changes nothing. Pure.
 */
export function addEvent(state: UnseenState, event: StreamEvent, viewing?: Tab | 'sessions'): UnseenState {
  if (hasSeen(state, event.id)) return state
  const ids = [...state.ids, event.id]
  let floor = state.floor
  while (ids.length > UNSEEN_LIMITS.rememberedIds) floor = Math.max(floor, ids.shift()!)
  const lastId = Math.max(state.lastId ?? 0, event.id)
  const looking = event.tab ? viewing !== 'sessions' && sameTab(viewing, event.tab) : viewing === 'sessions'
  if (looking) return { ...state, lastId, ids, floor }

  const old = state.entries.find((e) => sameTab(e.tab, event.tab))
  const newer = !old || event.id >= old.latestId
  const entry: UnseenEntry = {
    ...(event.tab ? { tab: event.tab } : {}),
    count: Math.min((old?.count ?? 0) + 1, UNSEEN_LIMITS.countPerTab),
    latestId: newer ? event.id : old.latestId,
    // The message says what happened ("Claude needs your permission…"); a title is often just the program.
    latest: newer ? clip(event.message || event.title || '') : old.latest,
  }
  const entries = [...state.entries.filter((e) => e !== old), entry]
  while (entries.length > UNSEEN_LIMITS.tabs) entries.shift()
  return { lastId, ids, floor, entries }
}

/**
 * The stream's `ready`: the server has sent everything up to `lastId`. A
 * `lastId` below ours means the server's events started over (a new
 * HANDOFF_HOME): follow it, or its next events would be skipped. Pure.
 */
export function markReady(state: UnseenState, lastId: number): UnseenState {
  if (state.lastId !== null && lastId >= state.lastId) return state
  return lastId < (state.lastId ?? 0) ? { ...state, lastId, ids: [], floor: 0 } : { ...state, lastId }
}

/** Clears a tab's unseen events (opened in the app), or with `undefined` those without a tab. Pure. */
export function clearTab(state: UnseenState, tab: Tab | undefined): UnseenState {
  const entries = state.entries.filter((e) => !sameTab(e.tab, tab))
  return entries.length === state.entries.length ? state : { ...state, entries }
}

/** A session's unseen events (all its windows), or one window's; with the newest event's text. Pure. */
export function badgeFor(state: UnseenState, query: UnseenQuery): UnseenBadge {
  let count = 0
  let newest: UnseenEntry | undefined
  for (const e of state.entries) {
    if (!e.tab || e.tab.session !== query.session) continue
    if (query.window !== undefined && e.tab.window !== query.window) continue
    count += e.count
    if (!newest || e.latestId > newest.latestId) newest = e
  }
  return newest ? { count, latest: newest.latest } : { count }
}

/** Reads a stored state, dropping whatever does not fit (an older format, a hand edit). */
export function loadState(raw: string | null): UnseenState {
  if (!raw) return emptyState()
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    return emptyState()
  }
  if (typeof v !== 'object' || v === null) return emptyState()
  const s = v as Record<string, unknown>
  const entries: UnseenEntry[] = []
  for (const e of Array.isArray(s.entries) ? (s.entries as unknown[]).slice(-UNSEEN_LIMITS.tabs) : []) {
    if (typeof e !== 'object' || e === null) continue
    const { tab, count, latestId, latest } = e as Record<string, unknown>
    if (!isId(count) || !isId(latestId) || typeof latest !== 'string') continue
    const t = tab as { session?: unknown; window?: unknown } | undefined
    if (t !== undefined && (typeof t !== 'object' || t === null || typeof t.session !== 'string' || !isIndex(t.window))) continue
    entries.push({
      ...(t ? { tab: { session: t.session as string, window: t.window as number } } : {}),
      count: Math.min(count, UNSEEN_LIMITS.countPerTab),
      latestId,
      latest: clip(latest),
    })
  }
  return {
    lastId: isIndex(s.lastId) ? s.lastId : null,
    ids: Array.isArray(s.ids) ? (s.ids as unknown[]).filter(isId).slice(-UNSEEN_LIMITS.rememberedIds) : [],
    floor: isIndex(s.floor) ? s.floor : 0,
    entries,
  }
}

/** The stream's address: `since` the last id handled, or nothing replayed on the very first start. */
export const streamUrl = (lastId: number | null): string => (lastId === null ? '/api/events' : `/api/events?since=${lastId}`)

/** The localStorage key of a device's unseen events (another phone signing in here starts afresh). */
export const storageKey = (deviceId: string): string => `handoff.unseen.v1.${deviceId}`

/**
 * One device's unseen events, live: an EventSource on `/api/events` while the
 * page is visible (closed when hidden: pushes cover that time), counts kept
 * in localStorage. A refused stream is asked about once (`/api/me`): signed
 * out or expired, it stops quietly until `resume()` (the app's sign-in flow
 * handles the rest); otherwise it is retried with backoff.
 */
export class UnseenEvents implements Disposable {
  private state: UnseenState
  private source: EventSource | undefined
  private viewingNow: Tab | 'sessions' | undefined
  private stopped = false
  private disposed = false
  private failures = 0
  private retry: ReturnType<typeof setTimeout> | undefined
  private pending: ReturnType<typeof setTimeout> | undefined
  private readonly listeners = new Set<() => void>()
  private readonly eventListeners = new Set<(event: StreamEvent) => void>()
  private readonly key: string
  private readonly onVisibility = () => (document.visibilityState === 'visible' ? this.open() : this.close())
  private readonly onStorage = (event: StorageEvent) => {
    // Another browser tab of the app counted or cleared: show the same.
    if (event.key !== this.key) return
    this.state = loadState(event.newValue)
    this.changed()
  }

  constructor(readonly deviceId: string) {
    this.key = storageKey(deviceId)
    this.state = loadState(this.read() ?? null)
    document.addEventListener('visibilitychange', this.onVisibility)
    addEventListener('storage', this.onStorage)
    this.open()
  }

  /** What a session's or window's badge shows. */
  badge(query: UnseenQuery): UnseenBadge {
    return badgeFor(this.state, query)
  }

  /** Calls `listener` (coalesced) whenever the counts change. */
  onChange(listener: () => void): Disposable {
    this.listeners.add(listener)
    return toDisposable(() => this.listeners.delete(listener))
  }

  /** Calls `listener` with every event the stream brings (a replay may repeat one: its id tells). */
  onEvent(listener: (event: StreamEvent) => void): Disposable {
    this.eventListeners.add(listener)
    return toDisposable(() => this.eventListeners.delete(listener))
  }

  /**
   * What the user looks at: a tab (its unseen events clear, and new ones for
   * it are not counted) or the sessions list (the same for events without a tab).
   */
  viewing(what: Tab | 'sessions' | undefined): void {
    this.viewingNow = what
    if (what !== undefined) this.update(clearTab(this.reload(), what === 'sessions' ? undefined : what))
  }

  /** Starts again after a stop (signed in again). */
  resume(): void {
    if (!this.stopped || this.disposed) return
    this.stopped = false
    this.failures = 0
    this.open()
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.close()
    clearTimeout(this.pending)
    this.listeners.clear()
    this.eventListeners.clear()
    document.removeEventListener('visibilitychange', this.onVisibility)
    removeEventListener('storage', this.onStorage)
  }

  private open(): void {
    if (this.source || this.stopped || this.disposed || document.visibilityState !== 'visible') return
    clearTimeout(this.retry)
    this.retry = undefined
    // On its own reconnects the EventSource sends Last-Event-ID, but keeps this
    // URL's `since`: the replay repeats ids, which `hasSeen` skips.
    const source = new EventSource(streamUrl(this.reload().lastId))
    this.source = source
    source.onmessage = (message: MessageEvent<string>) => {
      const event = parseEvent(message.data)
      if (!event) return
      this.update(addEvent(this.reload(), event, this.viewingNow))
      for (const listener of [...this.eventListeners]) listener(event)
    }
    source.addEventListener('sessions', (message) => {
      const sessions = parseSessions((message as MessageEvent<string>).data)
      if (sessions) publishSessions(sessions)
    })
    source.addEventListener('ready', (message) => {
      const lastId = parseReady((message as MessageEvent<string>).data)
      this.failures = 0
      if (lastId !== undefined) this.update(markReady(this.reload(), lastId))
    })
    source.onerror = () => {
      if (this.source !== source) return
      sessionsStopped()
      // CONNECTING: a network error, and the EventSource retries by itself.
      // CLOSED: the server answered something other than a stream (401, 403, 502…).
      if (source.readyState !== EventSource.CLOSED) return
      this.source = undefined
      void this.refused()
    }
  }

  private close(): void {
    clearTimeout(this.retry)
    this.retry = undefined
    this.source?.close()
    this.source = undefined
    // Without the stream nothing keeps it current; reopened, the server sends a fresh one.
    latestSessions = undefined
  }

  private async refused(): Promise<void> {
    try {
      await me()
    } catch (error) {
      // Signed out or expired: quiet. The app's own requests take the phone to sign-in.
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        this.stopped = true
        return
      }
    }
    if (this.disposed || this.stopped || this.retry !== undefined) return
    const delay = Math.min(UNSEEN_LIMITS.retryFirstMs * 2 ** this.failures, UNSEEN_LIMITS.retryMaxMs)
    this.failures++
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.open()
    }, delay)
  }

  /** The state as stored, which another browser tab may have changed. */
  private reload(): UnseenState {
    const raw = this.read()
    // Null (nothing stored yet, or storage refused earlier): keep what is in memory.
    if (typeof raw === 'string') this.state = loadState(raw)
    return this.state
  }

  private update(next: UnseenState): void {
    if (next === this.state) return
    const before = JSON.stringify(this.state.entries)
    this.state = next
    try {
      localStorage.setItem(this.key, JSON.stringify(next))
    } catch {
      // Storage full or refused (private mode): the counts live in memory only.
    }
    if (JSON.stringify(next.entries) !== before) this.changed()
  }

  private read(): string | null | undefined {
    try {
      return localStorage.getItem(this.key)
    } catch {
      return undefined
    }
  }

  private changed(): void {
    if (this.pending !== undefined || this.disposed) return
    this.pending = setTimeout(() => {
      this.pending = undefined
      for (const listener of [...this.listeners]) listener()
    }, UNSEEN_LIMITS.coalesceMs)
  }
}

/** A screen following the live sessions list. */
interface SessionsFollower {
  listener: (event: SessionsEventJson) => void
  stopped: (() => void) | undefined
}

/** Screens following the live sessions list, and the newest list while the stream is open. */
const sessionsFollowers = new Set<SessionsFollower>()
let latestSessions: SessionsEventJson | undefined

function publishSessions(event: SessionsEventJson): void {
  latestSessions = event
  for (const follower of [...sessionsFollowers]) follower.listener(event)
}

/** The stream failed (cut, refused, the network gone) after sending a list: that list is live no more. */
function sessionsStopped(): void {
  if (latestSessions === undefined) return
  latestSessions = undefined
  for (const follower of [...sessionsFollowers]) follower.stopped?.()
}

/**
 * Follows the live sessions list (`event: sessions` on the stream): every
 * session this device may list, with its windows, each time tmux changes
 * them. `listener` is called at once with the newest list when the stream
 * has one. Nothing comes while the stream is closed (page hidden, signed out,
 * refused), so a screen fetches its first list itself, and again on
 * `stopped`: the stream failed after sending a list (a fetch then tells
 * whether the phone is offline or signed out).
 */
export function onSessions(listener: (event: SessionsEventJson) => void, stopped?: () => void): Disposable {
  const follower: SessionsFollower = { listener, stopped }
  sessionsFollowers.add(follower)
  if (latestSessions) listener(latestSessions)
  return toDisposable(() => sessionsFollowers.delete(follower))
}

/** Whether the stream is open and has sent a sessions list: then a screen need not fetch one after a change of its own. */
export const hasLiveSessions = (): boolean => latestSessions !== undefined

let current: UnseenEvents | undefined

/** The signed-in device's unseen events: started on first use, restarted for another device, resumed after a stop. */
export function unseenEventsFor(device: Pick<Device, 'id'>): UnseenEvents {
  if (current?.deviceId !== device.id) {
    current?.dispose()
    current = new UnseenEvents(device.id)
  }
  current.resume()
  return current
}

/**
 * The signed-in device's unseen events, if started: for parts of a screen
 * that have no device at hand (the terminal's window strip).
 */
export const runningUnseenEvents = (): UnseenEvents | undefined => current

/** Ends the stream (signed out). The counts stay stored for the device's next sign-in. */
export function stopUnseenEvents(): void {
  current?.dispose()
  current = undefined
}
