import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { HandoffError } from '../errors.js'
import { parseWindowIndex, type Tmux } from '../tmux/index.js'
import { Bridge, goneReason, type ExitReason } from './bridge.js'
import { BRIDGE_LIMITS, parseInitialSize } from './control.js'

export { BRIDGE_LIMITS, clampSize, parseControl, parseInitialSize } from './control.js'
export { DisposableStore, toDisposable } from './disposable.js'
export { goneReason } from './bridge.js'
export type { ExitCode, ExitReason } from './bridge.js'

/** One live terminal, as `viewers()` reports it. */
export interface TerminalViewer {
  deviceId: string
  /** The session's current name (follows renames within the watch interval). */
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
  /** Decides again for a live terminal, on the device's current record and the session's current name. */
  recheck(deviceId: string, sessionName: string): Promise<{ ok: true; readOnly: boolean } | { ok: false; reason: ExitReason }>
}

export interface TerminalServerOptions {
  tmux: Tmux
  access: TerminalAccess
  /** Ping interval; a client that misses one ping is dropped at the next. */
  heartbeatMs?: number
  /** How often live terminals are checked against tmux (killed windows, renamed sessions) and the gate. */
  watchIntervalMs?: number
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

/**
 * The WebSocket side of Handoff: authorises each upgrade, resolves its tmux
 * window, and runs one Bridge per socket. Also the two timers every live
 * terminal shares: the heartbeat and the watch for killed windows.
 */
export function createTerminalServer(options: TerminalServerOptions) {
  const { tmux, access } = options
  const heartbeatMs = options.heartbeatMs ?? 10_000
  const watchIntervalMs = options.watchIntervalMs ?? 500
  const log = options.log ?? (() => {})
  const wss = new WebSocketServer({ noServer: true, maxPayload: BRIDGE_LIMITS.messageBytes })
  const bridges = new Set<Bridge>()
  const alive = new WeakMap<WebSocket, boolean>()

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

  let watching = false
  /** Ends terminals whose window is gone or that their device may no longer see; follows read-only changes. */
  async function checkAll(): Promise<void> {
    if (watching || bridges.size === 0) return
    watching = true
    try {
      const snapshot = await tmux.snapshot().catch(() => null)
      for (const bridge of bridges) {
        const gone = goneReason(bridge.target, snapshot)
        if (gone) {
          bridge.end(gone)
          continue
        }
        const session = snapshot ? bridge.sessionNow(snapshot) : null
        if (session === null) continue
        bridge.sessionName = session
        const verdict = await access.recheck(bridge.deviceId, session).catch((err: unknown) => {
          log(`recheck failed: ${err instanceof Error ? err.message : String(err)}`)
          return { ok: false as const, reason: { code: 'ACCESS_CHANGED' as const, message: 'access could not be checked' } }
        })
        if (!verdict.ok) bridge.end(verdict.reason)
        else bridge.readOnly ||= verdict.readOnly
      }
    } finally {
      watching = false
    }
  }
  const watch = setInterval(() => void checkAll(), watchIntervalMs)
  watch.unref()

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    try {
      const refusal = access.guard(req)
      if (refusal) throw refusal
      const url = new URL(req.url ?? '/', 'http://upgrade.invalid')
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
      const sizePolicy = url.searchParams.get('size') ?? 'fit'
      if (sizePolicy !== 'fit' && sizePolicy !== 'desktop') {
        throw new HandoffError('BAD_REQUEST', 400, `"size" must be fit or desktop, got ${JSON.stringify(sizePolicy.slice(0, 20))}`)
      }
      // The gate decides on the name asked for before tmux is asked whether it exists.
      const { deviceId, readOnly } = await access.open(req, sessionName)
      const target = await tmux.findWindow(sessionName, index)
      if (socket.destroyed) return
      wss.handleUpgrade(req, socket, head, (ws) => {
        alive.set(ws, true)
        ws.on('pong', () => alive.set(ws, true))
        const bridge = new Bridge(ws, {
          tmux,
          target,
          ...size,
          viewerId: randomBytes(6).toString('hex'),
          deviceId,
          readOnly,
          sizePolicy,
          onEnd: (b) => bridges.delete(b),
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
    /** Re-decides every live terminal now: call when devices change. */
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
    /** Ends every terminal with SERVER_STOPPING and stops the timers. */
    close(): void {
      clearInterval(heartbeat)
      clearInterval(watch)
      for (const bridge of bridges) bridge.end({ code: 'SERVER_STOPPING', message: 'the Handoff server is stopping' })
      wss.close()
    },
  }
}

export type TerminalServer = ReturnType<typeof createTerminalServer>
