import { homedir } from 'node:os'
import * as pty from 'node-pty'
import type { WebSocket } from 'ws'
import type { Session, Snapshot, Tmux, Window } from '../tmux/index.js'
import { tmuxEnv } from '../tmux/index.js'
import { BRIDGE_LIMITS, clampSize, parseControl } from './control.js'
import { DisposableStore, toDisposable } from './disposable.js'

export type ExitCode =
  | 'DETACHED'
  | 'WINDOW_CLOSED'
  | 'SESSION_CLOSED'
  | 'TMUX_EXITED'
  | 'SERVER_STOPPING'
  | 'DEVICE_REVOKED'
  | 'DEVICE_EXPIRED'
  | 'ACCESS_CHANGED'

export interface ExitReason {
  code: ExitCode
  message: string
}

/** WebSocket close code for each way a terminal ends (docs/protocol.md). */
const CLOSE_CODES: Record<ExitCode, number> = {
  DETACHED: 1000,
  SERVER_STOPPING: 1001,
  WINDOW_CLOSED: 4404,
  SESSION_CLOSED: 4404,
  TMUX_EXITED: 4500,
  DEVICE_REVOKED: 4403,
  DEVICE_EXPIRED: 4403,
  ACCESS_CHANGED: 4403,
}

export interface Target {
  session: Session
  window: Window
}

/** Why a target is gone, judged from tmux's current ids; null while it still exists. Pure. */
export function goneReason(target: Target, snapshot: Snapshot | null): ExitReason | null {
  const { session, window } = target
  if (snapshot === null) return { code: 'TMUX_EXITED', message: 'the tmux server exited' }
  if (!snapshot.sessions.has(session.id)) return { code: 'SESSION_CLOSED', message: `session ${JSON.stringify(session.name)} was killed` }
  if (!snapshot.windows.has(`${session.id}:${window.id}`)) {
    return { code: 'WINDOW_CLOSED', message: `window ${window.index} of session ${JSON.stringify(session.name)} was closed` }
  }
  return null
}

export interface BridgeOptions {
  tmux: Tmux
  target: Target
  cols: number
  rows: number
  /** Unique per bridge; names the hidden viewer session. */
  viewerId: string
  /** The signed-in device this terminal belongs to. */
  deviceId: string
  /** Drop every input frame, and attach read-only in tmux. */
  readOnly: boolean
  /** `desktop`: watch at the desktop's size (the phone never resizes the window); `fit`: the window takes this terminal's size while it is the latest client. */
  sizePolicy: 'fit' | 'desktop'
  onEnd: (bridge: Bridge) => void
}

// A UTF-8 locale for the tmux client, unless the user's own already is one.
const utf8Locale = (): Record<string, string> =>
  /utf-?8/i.test(process.env.LC_ALL ?? process.env.LC_CTYPE ?? process.env.LANG ?? '') ? {} : { LC_CTYPE: 'C.UTF-8' }

/**
 * One browser terminal: a tmux client in a pty, streamed over one WebSocket.
 * Binary frames are raw bytes both ways; text frames are control JSON. All
 * that it creates lives in one DisposableStore; every way out disposes it.
 */
export class Bridge {
  readonly target: Target
  readonly deviceId: string
  /** Set when the device becomes read-only while the terminal is open: input is dropped from then on. */
  readOnly: boolean
  /** Whether the page showing this terminal is visible, as the client last said (`visibility` frame); true until told otherwise. */
  visible = true
  /** The session's name as last seen by the watch (renames follow); the target's name until then. */
  sessionName: string
  private readonly store = new DisposableStore()
  private readonly pty: pty.IPty
  private sentBytes = 0
  private ackedBytes = 0
  private paused = false
  private lastResizeAt = 0
  private pendingSize: { cols: number; rows: number } | null = null
  private resizeTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly ws: WebSocket,
    private readonly options: BridgeOptions,
  ) {
    this.target = options.target
    this.deviceId = options.deviceId
    this.readOnly = options.readOnly
    this.sessionName = options.target.session.name
    const { tmux, target } = options
    // At desktop size the client starts at the window's own size, so attaching never resizes it.
    const ignoreSize = options.readOnly || options.sizePolicy === 'desktop'
    const desktop = clampSize(target.window.width, target.window.height + target.session.statusLines)
    const cols = ignoreSize ? desktop.cols : options.cols
    const rows = ignoreSize ? desktop.rows : options.rows
    this.pty = pty.spawn('tmux', tmux.viewerArgv(target.session, target.window, options.viewerId, {
      readOnly: options.readOnly,
      // A read-only watcher never resizes the desktop's window.
      ignoreSize,
    }), {
      name: 'xterm-256color',
      cols,
      rows,
      cwd: homedir(),
      env: tmuxEnv({ TERM: 'xterm-256color', ...utf8Locale() }),
      // Raw bytes: decoding here would split multi-byte characters across chunks.
      encoding: null,
    })
    this.store.add(toDisposable(() => options.onEnd(this)))
    // SIGHUP ends only this tmux client; destroy-unattached then removes its viewer session.
    this.store.add(toDisposable(() => this.pty.kill()))
    this.store.add(toDisposable(() => clearTimeout(this.resizeTimer)))

    // node-pty types onData as string, but with `encoding: null` it delivers Buffers.
    const onData = this.pty.onData as unknown as pty.IEvent<Buffer>
    this.store.add(onData((chunk) => this.sendOutput(chunk)))
    this.store.add(this.pty.onExit(() => void this.explainExit()))

    const onMessage = (data: Buffer, isBinary: boolean) => this.receive(data, isBinary)
    ws.on('message', onMessage)
    this.store.add(toDisposable(() => ws.off('message', onMessage)))
    ws.once('close', () => this.store.dispose())
    // ws reports protocol errors (such as an oversized frame) here, then closes.
    ws.on('error', () => {})
  }

  /** Ends the terminal: tells the client why, closes the socket, kills the tmux client. Idempotent. */
  end(reason: ExitReason): void {
    if (this.store.isDisposed) return
    if (this.ws.readyState === this.ws.OPEN) {
      this.ws.send(JSON.stringify({ type: 'exit', code: reason.code, message: reason.message }))
      this.ws.close(CLOSE_CODES[reason.code], reason.code)
    }
    this.store.dispose()
  }

  private sendOutput(chunk: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    this.ws.send(chunk, { binary: true })
    this.sentBytes += chunk.length
    if (!this.paused && this.sentBytes - this.ackedBytes > BRIDGE_LIMITS.unackedHighBytes) {
      this.paused = true
      this.pty.pause()
    }
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      // Keys, pastes, mouse reports and terminal query replies alike: a read-only device sends nothing.
      if (!this.readOnly) this.pty.write(data)
      return
    }
    const parsed = parseControl(data.toString('utf8'))
    if (!parsed.ok) {
      this.ws.send(JSON.stringify({ type: 'error', code: 'BAD_CONTROL_MESSAGE', message: parsed.reason }))
      return
    }
    const message = parsed.message
    if (message.type === 'ack') {
      // An ack can never count more than was sent.
      this.ackedBytes = Math.min(this.sentBytes, this.ackedBytes + message.bytes)
      if (this.paused && this.sentBytes - this.ackedBytes < BRIDGE_LIMITS.unackedLowBytes) {
        this.paused = false
        this.pty.resume()
      }
    } else if (message.type === 'visibility') {
      this.visible = message.visible
    } else {
      this.requestResize(message)
    }
  }

  private requestResize(size: { cols: number; rows: number }): void {
    this.pendingSize = size
    if (this.resizeTimer) return
    const wait = this.lastResizeAt + BRIDGE_LIMITS.resizeIntervalMs - Date.now()
    if (wait <= 0) this.applyResize()
    else this.resizeTimer = setTimeout(() => this.applyResize(), wait)
  }

  private applyResize(): void {
    this.resizeTimer = undefined
    const size = this.pendingSize
    this.pendingSize = null
    if (!size || this.store.isDisposed) return
    this.lastResizeAt = Date.now()
    if (size.cols !== this.pty.cols || size.rows !== this.pty.rows) this.pty.resize(size.cols, size.rows)
  }

  /**
   * The name of the session this terminal shows now: its target's current
   * name, or, if the client moved itself (prefix + `)`), the session it moved to.
   */
  sessionNow(snapshot: Snapshot): string | null {
    const shown = snapshot.clients.get(this.pty.pid) ?? this.target.session.id
    return snapshot.sessions.get(shown) ?? null
  }

  /** The tmux client exited on its own: find out why, so the client can say so. */
  private async explainExit(): Promise<void> {
    if (this.store.isDisposed) return
    const snapshot = await this.options.tmux.snapshot().catch(() => null)
    this.end(goneReason(this.target, snapshot) ?? { code: 'DETACHED', message: 'the tmux client detached' })
  }
}
