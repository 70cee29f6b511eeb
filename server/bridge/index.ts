import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { HandoffError } from '../errors.js'
import { parseWindowIndex, type Tmux, type TmuxControl } from '../tmux/index.js'
import { Bridge, goneReason, type ExitReason } from './bridge.js'
import { BRIDGE_LIMITS, parseHistoryLines, parseInitialSize } from './control.js'
import { SessionFeed } from './feed.js'
import { SizeClaims } from './sizes.js'

export { BRIDGE_LIMITS, clampSize, parseControl, parseHistoryLines, parseInitialSize } from './control.js'
export { DisposableStore, toDisposable } from './disposable.js'
export { goneReason } from './bridge.js'
export type { ExitCode, ExitReason } from './bridge.js'
export { FEED_LIMITS } from './feed.js'

/** One live terminal, as `viewers()` reports it. */
export interface TerminalViewer {
  deviceId: string
  /** The session's current name (renames follow). */
  session: string
  /** The window index it was opened on. */
  window: number
  /** The page's visibility, from the client's `visibility` frames; true until the first one. */
  visible: boolean
}

/** Who may open and keep a terminal; the caller composes sign-in, the gate and the audit log. */
export interface TerminalAccess {
  /** Host and Origin, before anything else; null lets it through. */
  guard(req: IncomingMessage): HandoffError | null
  /** Decides an upgrade for a session name; throws a HandoffError to refuse it. */
  open(req: IncomingMessage, sessionName: string): Promise<{ deviceId: string; readOnly: boolean }>
  /** Decides again for a live terminal, on the device's current record, the session's current name and who its peer is now. */
  recheck(deviceId: string, sessionName: string, peerAddress: string | null): Promise<{ ok: true; readOnly: boolean } | { ok: false; reason: ExitReason }>
}

export interface TerminalServerOptions {
  tmux: Tmux
  /** The control connection `tmux` runs over: terminals stream from it and hear of changes through it. */
  control: TmuxControl
  access: TerminalAccess
  /** Ping interval; a client that misses one ping is dropped at the next. */
  heartbeatMs?: number
  log?: (line: string) => void
}

const TERM_PATH = /^\/api\/term\/([^/]+)\/([^/]+)$/

/** Answers a refused upgrade with plain HTTP and the usual error JSON, before any WebSocket exists. */
function refuseUpgrade(socket: Duplex, err: HandoffError): void {
  const body = JSON.stringify({ error: { code: err.code, message: err.message } })
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  )
}

/** What an upgrade asks for, from its URL; BAD_REQUEST or NOT_FOUND when it cannot be read. */
function parseTerminalUrl(rawUrl: string | undefined) {
  const url = new URL(rawUrl ?? '/', 'http://upgrade.invalid')
  const match = TERM_PATH.exec(url.pathname)
  if (!match) throw new HandoffError('NOT_FOUND', 404, 'WebSocket upgrades are only served at /api/term/:session/:window')
  let sessionName: string
  let indexText: string
  try {
    sessionName = decodeURIComponent(match[1] ?? '')
    indexText = decodeURIComponent(match[2] ?? '')
  } catch {
    throw new HandoffError('BAD_REQUEST', 400, 'the terminal URL is not validly percent-encoded')
  }
  const index = parseWindowIndex(indexText)
  const size = parseInitialSize(url.searchParams.get('cols'), url.searchParams.get('rows'))
  if (!size) throw new HandoffError('BAD_REQUEST', 400, '"cols" and "rows" must be whole numbers')
  const historyLines = parseHistoryLines(url.searchParams.get('history'))
  if (historyLines === null) throw new HandoffError('BAD_REQUEST', 400, `"history" must be a whole number of lines, 0 to ${BRIDGE_LIMITS.historyLines.max}`)
  const sizePolicy = url.searchParams.get('size') ?? 'fit'
  if (sizePolicy !== 'fit' && sizePolicy !== 'desktop') {
    throw new HandoffError('BAD_REQUEST', 400, `"size" must be fit or desktop, got ${JSON.stringify(sizePolicy.slice(0, 20))}`)
  }
  return { sessionName, index, size, historyLines, sizePolicy } as const
}

/**
 * The WebSocket side of Handoff: authorises each upgrade, resolves its tmux
 * window, and runs one Bridge per socket over its session's feed. Live
 * terminals are re-decided whenever tmux says something changed (and when
 * devices change): no timer polls tmux.
 */
export function createTerminalServer(options: TerminalServerOptions) {
  const { tmux, control, access } = options
  const heartbeatMs = options.heartbeatMs ?? 10_000
  const log = options.log ?? (() => {})
  const wss = new WebSocketServer({ noServer: true, maxPayload: BRIDGE_LIMITS.messageBytes })
  const bridges = new Set<Bridge>()
  const alive = new WeakMap<WebSocket, boolean>()
  const sizes = new SizeClaims(tmux, log)
  /** One feed per session being watched, shared by its terminals. */
  const feeds = new Map<string, Promise<SessionFeed>>()

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate()
        continue
      }
      alive.set(ws, false)
      ws.ping()
    }
  }, heartbeatMs)
  heartbeat.unref()

  async function feedFor(sessionId: string): Promise<SessionFeed> {
    const existing = feeds.get(sessionId)
    if (existing) {
      const feed = await existing
      if (!feed.isEnded) return feed
      if (feeds.get(sessionId) === existing) feeds.delete(sessionId)
    }
    const opening = SessionFeed.open(control, sessionId)
    feeds.set(sessionId, opening)
    opening.catch(() => {
      if (feeds.get(sessionId) === opening) feeds.delete(sessionId)
    })
    return opening
  }

  function leaveFeed(bridge: Bridge, feed: SessionFeed): void {
    bridges.delete(bridge)
    if (feed.leave(bridge)) return
    feed.close()
    void feeds.get(feed.sessionId)?.then((f) => f === feed && feeds.delete(feed.sessionId))
  }

  let checking = false
  let checkAgain = false
  /** Ends terminals whose window is gone or that their device may no longer see; follows read-only changes. */
  async function checkAll(): Promise<void> {
    if (bridges.size === 0) return
    if (checking) {
      checkAgain = true
      return
    }
    checking = true
    try {
      do {
        checkAgain = false
        const snapshot = await tmux.snapshot().catch(() => null)
        for (const bridge of bridges) {
          const gone = goneReason(bridge.target, snapshot)
          if (gone) {
            bridge.end(gone)
            continue
          }
          const session = snapshot?.sessions.get(bridge.target.session.id)
          if (session === undefined) continue
          bridge.sessionName = session
          const verdict = await access.recheck(bridge.deviceId, session, bridge.peerAddress).catch((err: unknown) => {
            log(`recheck failed: ${err instanceof Error ? err.message : String(err)}`)
            return { ok: false as const, reason: { code: 'ACCESS_CHANGED' as const, message: 'access could not be checked' } }
          })
          if (!verdict.ok) bridge.end(verdict.reason)
          else bridge.readOnly ||= verdict.readOnly
        }
      } while (checkAgain)
    } finally {
      checking = false
    }
  }
  // Activity alone (output, a new title) changes nothing a terminal is checked against.
  const stopWatchingTmux = control.onChange((kind) => kind === 'structure' && void checkAll())

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    try {
      const refusal = access.guard(req)
      if (refusal) throw refusal
      const { sessionName, index, size, historyLines, sizePolicy } = parseTerminalUrl(req.url)
      // The gate decides on the name asked for before tmux is asked whether it exists.
      const { deviceId, readOnly } = await access.open(req, sessionName)
      const target = await tmux.findWindow(sessionName, index)
      const feed = await feedFor(target.session.id)
      if (socket.destroyed) return
      wss.handleUpgrade(req, socket, head, (ws) => {
        alive.set(ws, true)
        ws.on('pong', () => alive.set(ws, true))
        const bridge = new Bridge(ws, {
          feed,
          tmux,
          sizes,
          target,
          ...size,
          historyLines,
          deviceId,
          peerAddress: req.socket.remoteAddress ?? null,
          readOnly,
          sizePolicy,
          onEnd: (b) => leaveFeed(b, feed),
          log,
        })
        bridges.add(bridge)
      })
    } catch (err) {
      if (err instanceof HandoffError) refuseUpgrade(socket, err)
      else {
        log(`internal error on upgrade ${req.url ?? ''}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
        refuseUpgrade(socket, new HandoffError('INTERNAL', 500, 'internal error'))
      }
    }
  }

  return {
    /** Pass an http server's 'upgrade' event here. */
    handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void handleUpgrade(req, socket, head),
    /** Re-decides every live terminal now: call when devices change, and from time to time on the tailnet (peers change). */
    recheck: () => checkAll(),
    /** Live terminals right now. */
    get size() {
      return bridges.size
    },
    /**
     * Who is looking at what right now: one entry per live terminal, with the
     * session's current name, the window index and whether its page is
     * visible. Web Push uses it to skip the tab a device is looking at.
     */
    viewers(): TerminalViewer[] {
      return [...bridges].map((b) => ({ deviceId: b.deviceId, session: b.sessionName, window: b.target.window.index, visible: b.visible }))
    },
    /** Ends every terminal with SERVER_STOPPING and stops the heartbeat. */
    close(): void {
      clearInterval(heartbeat)
      stopWatchingTmux()
      for (const bridge of bridges) bridge.end({ code: 'SERVER_STOPPING', message: 'the Handoff server is stopping' })
      wss.close()
    },
  }
}

export type TerminalServer = ReturnType<typeof createTerminalServer>
