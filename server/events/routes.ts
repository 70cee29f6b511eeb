import { Hono } from 'hono'
import { streamSSE, type SSEMessage } from 'hono/streaming'
import type { RecentEventsJson, SessionsEventJson } from '../../protocol/index.js'
import { HandoffError } from '../errors.js'
import { decide } from '../gate/index.js'
import { authorize, grantOf, recheck } from '../access/index.js'
import { sessionWithWindowsJson, type AppEnv } from '../http/index.js'
import { readDevices, watchDevices, type DeviceRecord } from '../store/index.js'
import type { LiveSessions, SessionWithWindows } from '../tmux/index.js'
import type { EventPipeline } from './pipeline.js'
import type { HandoffEvent } from './schema.js'

export const EVENT_STREAM_LIMITS = {
  /** A comment line after this long without any other write, so proxies and phones keep the stream open. */
  heartbeatMs: 15_000,
  /** How often a stream re-decides its device on the cached record (expiry); devices.json changes are seen at once. */
  recheckMs: 1_000,
  /** Stored events sent on connect, at most (the newest after `since`). */
  replayEvents: 1000,
  /** Messages waiting for a slow client; past this the stream ends and the client reconnects with `since`. */
  queuedMessages: 1000,
  /** Ids a stream remembers having handled, so a replayed or repeated event is not sent twice; the oldest are forgotten. */
  rememberedIds: 2000,
  /** Events `GET /api/events/recent` lists: the newest the device may see. */
  recentEvents: 50,
} as const

export interface EventRouteDeps {
  pipeline: Pick<EventPipeline, 'subscribe' | 'recent' | 'lastId'>
  /** The live sessions list: when given, each stream also sends `event: sessions`. */
  sessions?: Pick<LiveSessions, 'subscribe'>
  /** HANDOFF_HOME: devices.json and the audit log. */
  home: string
  now: () => number
  heartbeatMs?: number
  recheckMs?: number
}

/** `since` (or the Last-Event-ID an EventSource sends when it reconnects): an event id, a whole number ≥ 0. */
export function parseSince(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (/^\d{1,16}$/.test(raw) && Number.isSafeInteger(n)) return n
  throw new HandoffError('BAD_REQUEST', 400, `"since" must be an event id (a whole number, 0 or more), got ${JSON.stringify(raw.slice(0, 40))}`)
}

const eventMessage = (event: HandoffEvent): SSEMessage => ({ id: String(event.id), data: JSON.stringify(event) })

/**
 * Whether `device` may see an event, by the gate on its record: an event
 * for a session only if its patterns allow that session, one without a
 * session always (while it may subscribe at all).
 */
const maySee =
  (device: DeviceRecord | null, now: number) =>
  (event: HandoffEvent): boolean => {
    const session = event.tmux_session
    return decide({ device: grantOf(device), action: 'subscribe-events', ...(session === undefined ? {} : { session }) }, now).ok
  }

/** One stream's share of the live sessions list. */
interface SessionsFeed {
  /** Sends the list again if what the device may see of it changed (its record changed). */
  refilter(): void
  stop(): void
}

/**
 * Sends `event: sessions` on one stream: the sessions `visible` keeps, now
 * and whenever that differs from what this stream last sent, so a change in
 * a session the device may not list sends it nothing. No SSE `id:`: these are
 * state, not events, and must not move an EventSource's Last-Event-ID.
 */
function followSessions(
  source: Pick<LiveSessions, 'subscribe'>,
  visible: (all: readonly SessionWithWindows[]) => SessionWithWindows[],
  send: (message: SSEMessage) => void,
): SessionsFeed {
  let latest: readonly SessionWithWindows[] | undefined
  let sent: string | undefined
  const sendVisible = (): void => {
    if (latest === undefined) return
    const event: SessionsEventJson = { type: 'sessions', sessions: visible(latest).map(sessionWithWindowsJson) }
    const data = JSON.stringify(event)
    if (data === sent) return
    sent = data
    send({ event: 'sessions', data })
  }
  const stop = source.subscribe((all) => {
    latest = all
    sendVisible()
  })
  return { refilter: sendVisible, stop }
}

/**
 * `GET /api/events?since=ID`: the event stream, as server-sent events.
 *
 * Authorises `subscribe-events` first (401/403, audited, like every route),
 * then sends the stored events after `since`, then `event: ready` with
 * `{"type":"ready","last_id":N}`, then live events, with a `: heartbeat`
 * comment when idle. Each event carries its id in the SSE `id:` field, so an
 * EventSource resumes where it was (Last-Event-ID stands in for `since`). An
 * event for a session goes only to devices whose patterns allow it (the gate,
 * on the device's current record); an event without a session goes to every
 * device. The stream ends as soon as the device may no longer subscribe at
 * all (revoked, expired, changed so that its sign-in is void). With a live
 * sessions list, `event: sessions` follows `ready` with the sessions the
 * device may `list`, and again on every change of those.
 *
 * @see docs/notifications.md
 */
export function createEventRoutes(deps: EventRouteDeps): Hono<AppEnv> {
  const heartbeatMs = deps.heartbeatMs ?? EVENT_STREAM_LIMITS.heartbeatMs
  const recheckMs = deps.recheckMs ?? EVENT_STREAM_LIMITS.recheckMs
  const app = new Hono<AppEnv>()

  app.get('/api/events', async function eventStream(c) {
    const peer = c.get('peer')
    const signedIn = c.get('device')
    const { deviceId } = await authorize(deps.home, { device: signedIn, action: 'subscribe-events', peer, now: deps.now() })
    const since = parseSince(c.req.query('since') ?? c.req.header('last-event-id'))
    const generation = signedIn?.generation

    return streamSSE(c, async (stream) => {
      // The device as devices.json has it now: re-read on every change of that file.
      let device: DeviceRecord | null = signedIn
      const cleanups: (() => void)[] = []
      let ended = false
      let finish!: () => void
      const finished = new Promise<void>((resolve) => (finish = resolve))
      const end = (): void => {
        if (ended) return
        ended = true
        for (const cleanup of cleanups.splice(0).reverse()) cleanup()
        finish()
      }
      stream.onAbort(end)

      // Writes go out one at a time, in order; a client that stops reading is dropped.
      let chain: Promise<unknown> = Promise.resolve()
      let queued = 0
      let heartbeat: NodeJS.Timeout | undefined
      cleanups.push(() => clearTimeout(heartbeat))
      const send = (message: SSEMessage | string): void => {
        if (ended) return
        if (queued >= EVENT_STREAM_LIMITS.queuedMessages) {
          // Its writes would never finish, and neither would a polite close: cut the response.
          end()
          stream.abort()
          return
        }
        queued++
        chain = chain
          .then(async () => void (typeof message === 'string' ? await stream.write(message) : await stream.writeSSE(message)))
          .finally(() => void queued--)
        clearTimeout(heartbeat)
        heartbeat = setTimeout(() => send(': heartbeat\n\n'), heartbeatMs)
      }

      /** Whether the device may still subscribe at all; if not, audits why and ends the stream. */
      const stillAllowed = (): boolean => {
        if (ended) return false
        const d = device
        // A changed generation or a suspect record voids the sign-in this stream was opened with.
        const valid = d !== null && !d.suspect && d.generation === generation
        if (recheck(deps.home, { deviceId, device: valid ? d : null, action: 'subscribe-events', peer, now: deps.now() }).ok) return true
        end()
        return false
      }
      // The sessions the device may list, by the gate on its current record, as GET /api/sessions filters them.
      const listable = (all: readonly SessionWithWindows[]): SessionWithWindows[] => {
        const grant = grantOf(device)
        const now = deps.now()
        return all.filter((entry) => decide({ device: grant, action: 'list', session: entry.session.name }, now).ok)
      }
      let sessions: SessionsFeed | undefined

      const sent = new Set<number>()
      const deliver = (event: HandoffEvent): void => {
        if (sent.has(event.id) || !stillAllowed()) return
        sent.add(event.id)
        // A Set iterates in insertion order: the first one is the oldest remembered.
        if (sent.size > EVENT_STREAM_LIMITS.rememberedIds) sent.delete(sent.values().next().value!)
        if (maySee(device, deps.now())(event)) send(eventMessage(event))
      }

      const refresh = async (): Promise<void> => {
        try {
          device = (await readDevices(deps.home)).find((d) => d.id === deviceId) ?? null
        } catch {
          device = null // an unreadable devices.json grants nothing
        }
        if (stillAllowed()) sessions?.refilter()
      }
      cleanups.push(watchDevices(deps.home, () => void refresh()))
      const expiryCheck = setInterval(stillAllowed, recheckMs)
      cleanups.push(() => clearInterval(expiryCheck))

      // Subscribe before reading the ring, in the same tick: no event falls between the two.
      const live: HandoffEvent[] = []
      let replaying = true
      cleanups.push(deps.pipeline.subscribe((event) => (replaying ? live.push(event) : deliver(event))))
      await refresh() // decide on the record as it is now, not as it was when the cookie was checked
      if (since !== undefined) for (const event of deps.pipeline.recent(since, EVENT_STREAM_LIMITS.replayEvents)) deliver(event)
      if (!ended) {
        const lastId = Math.max(deps.pipeline.lastId(), ...sent)
        send({ event: 'ready', id: String(lastId), data: JSON.stringify({ type: 'ready', last_id: lastId }) })
      }
      replaying = false
      for (const event of live.splice(0)) deliver(event)
      if (deps.sessions && !ended) {
        const feed = followSessions(deps.sessions, listable, (message) => {
          if (stillAllowed()) send(message)
        })
        sessions = feed
        cleanups.push(() => feed.stop())
      }

      // streamSSE closes the stream when this returns; the close waits behind the writes still queued.
      await finished
    })
  })

  /**
   * `GET /api/events/recent`: the newest events the device may see, newest
   * first, as `{"events": [...]}` (the app's inbox). Decided like the stream.
   */
  app.get('/api/events/recent', async function recentEvents(c) {
    const device = c.get('device')
    const now = deps.now()
    await authorize(deps.home, { device, action: 'subscribe-events', peer: c.get('peer'), now })
    const visible = deps.pipeline.recent(0, EVENT_STREAM_LIMITS.replayEvents).filter(maySee(device, now))
    const body: RecentEventsJson = { events: visible.slice(-EVENT_STREAM_LIMITS.recentEvents).reverse() }
    return c.json(body)
  })

  return app
}
