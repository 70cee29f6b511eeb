import type { WebSocket } from 'ws'
import type { CloseCodeOf, HistoryExtent, PaneHeaderBytes, ServerFrame, SizePolicy, TerminalExitCode } from '../../protocol/index.js'
import type { Snapshot, Tmux, WindowTarget } from '../tmux/index.js'
import { windowLayout, type WindowLayout } from '../tmux/panes.js'
import { BRIDGE_LIMITS, parseControl } from './control.js'
import { DisposableStore, toDisposable } from './disposable.js'
import type { PaneViewer, SessionFeed } from './feed.js'
import type { SizeClaims } from './sizes.js'
import type { SyncKind } from './sync.js'

export type ExitCode = TerminalExitCode

export interface ExitReason {
  code: ExitCode
  message: string
}

/** WebSocket close code for each way a terminal ends (docs/protocol.md). */
const CLOSE_CODES: CloseCodeOf = {
  DETACHED: 1000,
  SERVER_STOPPING: 1001,
  WINDOW_CLOSED: 4404,
  SESSION_CLOSED: 4404,
  TMUX_EXITED: 4500,
  DEVICE_REVOKED: 4403,
  DEVICE_EXPIRED: 4403,
  ACCESS_CHANGED: 4403,
}

const PANE_HEADER: PaneHeaderBytes = 4

export type Target = WindowTarget

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
  feed: SessionFeed
  tmux: Tmux
  sizes: SizeClaims
  target: Target
  /** The phone's size in cells: what `fit` asks the window to take. */
  cols: number
  rows: number
  /** Lines of history sent with each pane's first screen. */
  historyLines: number
  /** The signed-in device this terminal belongs to. */
  deviceId: string
  /** The connection's peer address: re-checked against the tailnet while the terminal lives. */
  peerAddress: string | null
  /** Drop every input frame, and never change the window's size. */
  readOnly: boolean
  /** `fit`: once the phone types, the window takes its size until it leaves; `desktop`: never. */
  sizePolicy: SizePolicy
  onEnd: (bridge: Bridge) => void
  log: (line: string) => void
}

/**
 * One browser terminal: the panes of one tmux window, streamed over one
 * WebSocket from the session's control client. Nothing of it exists in tmux:
 * no client, no session, no option (but a window held at a fitted phone's
 * size, given back when it leaves). All it creates lives in one
 * DisposableStore; every way out disposes it.
 */
export class Bridge implements PaneViewer {
  readonly target: Target
  readonly deviceId: string
  readonly peerAddress: string | null
  /** Set when the device becomes read-only while the terminal is open: input is dropped from then on. */
  readOnly: boolean
  /** Whether the page showing this terminal is visible, as the client last said; true until told otherwise. */
  visible = true
  /** The session's name as tmux last said (renames follow). */
  sessionName: string
  private readonly store = new DisposableStore()
  private readonly feed: SessionFeed
  private layout: WindowLayout | null = null
  private focus: { pane: number | null; zoom: boolean } = { pane: null, zoom: false }
  private phone: { cols: number; rows: number }
  /** The phone typed since it was last hidden: only then does `fit` hold the window's size. */
  private typed = false
  private fitted = false
  private sentBytes = 0
  private ackedBytes = 0
  /** Output is not sent while the phone is this far behind; each pane is synced afresh once it catches up. */
  private behind = false
  private earlyInput: Buffer[] = []
  private earlyInputBytes = 0
  private layoutBusy = false
  private layoutAgain = false
  private resizeTimer: NodeJS.Timeout | undefined
  private lastResizeAt = 0
  /** History lines each pane is synced with: the phone asks for more as its user scrolls back (`history` frames). */
  private historyLines: number

  constructor(
    private readonly ws: WebSocket,
    private readonly options: BridgeOptions,
  ) {
    this.target = options.target
    this.deviceId = options.deviceId
    this.peerAddress = options.peerAddress
    this.readOnly = options.readOnly
    this.sessionName = options.target.session.name
    this.feed = options.feed
    this.phone = { cols: options.cols, rows: options.rows }
    this.historyLines = options.historyLines

    this.store.add(toDisposable(() => options.onEnd(this)))
    this.store.add(toDisposable(() => options.sizes.release(this)))
    this.store.add(toDisposable(() => clearTimeout(this.resizeTimer)))
    const onMessage = (data: Buffer, isBinary: boolean) => this.receive(data, isBinary)
    ws.on('message', onMessage)
    this.store.add(toDisposable(() => ws.off('message', onMessage)))
    ws.once('close', () => this.store.dispose())
    // ws reports protocol errors (such as an oversized frame) here, then closes.
    ws.on('error', () => {})

    this.feed.join(this)
    void this.refreshLayout()
  }

  get stalled(): boolean {
    return this.behind
  }

  /** Ends the terminal: tells the client why and closes the socket. Idempotent. */
  end(reason: ExitReason): void {
    if (this.store.isDisposed) return
    if (this.ws.readyState === this.ws.OPEN) {
      this.sendFrame({ type: 'exit', code: reason.code, message: reason.message })
      this.ws.close(CLOSE_CODES[reason.code], reason.code)
    }
    this.store.dispose()
  }

  // ---- PaneViewer: what the session's feed calls ----

  output(pane: number, data: Buffer): void {
    if (!this.behind) this.sendPane(pane, data)
  }

  redraw(pane: number, kind: SyncKind, data: Buffer, history?: HistoryExtent): void {
    if (this.behind) return
    this.sendFrame({ type: 'sync', pane, kind, ...history })
    this.sendPane(pane, data)
  }

  resync(pane: number): void {
    if (!this.behind) this.feed.sync(this, pane, this.historyLines, 'full')
  }

  notification(name: string, args: string): void {
    const [subject] = args.split(' ')
    const mine = subject === this.target.window.id
    if (((name === 'layout-change' || name === 'window-pane-changed' || name === 'window-renamed') && mine) || name === 'session-renamed') {
      void this.refreshLayout()
    }
  }

  lost(): void {
    void this.explainEnd()
  }

  // ---- the socket ----

  private receive(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      // Keys, mouse reports and terminal query replies alike: a read-only device sends nothing.
      if (this.readOnly || data.length === 0) return
      if (this.layout === null) {
        // Typed before tmux said which panes there are: kept (a little) until it does.
        if (this.earlyInputBytes + data.length <= BRIDGE_LIMITS.messageBytes) {
          this.earlyInput.push(data)
          this.earlyInputBytes += data.length
        }
        return
      }
      return this.type(data)
    }
    const parsed = parseControl(data.toString('utf8'))
    if (!parsed.ok) return this.sendFrame({ type: 'error', code: 'BAD_CONTROL_MESSAGE', message: parsed.reason })
    const message = parsed.message
    switch (message.type) {
      case 'ack':
        // An ack can never count more than was sent.
        this.ackedBytes = Math.min(this.sentBytes, this.ackedBytes + message.bytes)
        if (this.behind && this.sentBytes - this.ackedBytes < BRIDGE_LIMITS.unackedLowBytes) this.catchUp()
        return
      case 'visibility':
        this.visible = message.visible
        if (!message.visible) this.typed = false
        return this.updateClaim()
      case 'resize':
        this.phone = { cols: message.cols, rows: message.rows }
        return this.scheduleClaim()
      case 'focus':
        if (!this.layout?.panes.some((p) => p.id === message.pane)) {
          return this.sendFrame({ type: 'error', code: 'BAD_CONTROL_MESSAGE', message: `window has no pane ${message.pane}` })
        }
        // A newly shown pane starts from tmux's state: the phone draws it on a terminal of its own.
        if (message.pane !== this.focus.pane) this.feed.sync(this, message.pane, this.historyLines, 'full')
        this.focus = { pane: message.pane, zoom: message.zoom }
        return this.updateClaim()
      case 'history':
        if (!this.layout?.panes.some((p) => p.id === message.pane)) {
          return this.sendFrame({ type: 'error', code: 'BAD_CONTROL_MESSAGE', message: `window has no pane ${message.pane}` })
        }
        // Later syncs (reconnect aside) keep the longer history the user scrolled back to.
        this.historyLines = Math.max(this.historyLines, message.lines)
        return this.feed.sync(this, message.pane, this.historyLines, 'full')
      case 'paste': {
        const pane = this.inputPane()
        if (this.readOnly || pane === null || message.text === '') return
        this.feed.paste(pane, message.text, (err) => this.options.log(`tmux: paste: ${err.message}`))
        return
      }
    }
  }

  private type(data: Buffer): void {
    const pane = this.inputPane()
    if (pane === null) return
    this.feed.sendKeys(pane, data, (err) => this.options.log(`tmux: keys: ${err.message}`))
    if (!this.typed) {
      this.typed = true
      this.updateClaim()
    }
  }

  /** Where keys go: the pane the phone shows, or the window's active pane. */
  private inputPane(): number | null {
    const panes = this.layout?.panes ?? []
    return panes.find((p) => p.id === this.focus.pane)?.id ?? panes.find((p) => p.active)?.id ?? panes[0]?.id ?? null
  }

  private sendFrame(frame: ServerFrame): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(frame))
  }

  private sendPane(pane: number, data: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    const frame = Buffer.allocUnsafe(PANE_HEADER + data.length)
    frame.writeUInt32BE(pane, 0)
    data.copy(frame, PANE_HEADER)
    this.ws.send(frame, { binary: true })
    this.sentBytes += frame.length
    if (this.sentBytes - this.ackedBytes > BRIDGE_LIMITS.unackedHighBytes) this.behind = true
  }

  /** The phone rendered enough: every pane it shows starts again from tmux's current state. */
  private catchUp(): void {
    this.behind = false
    for (const pane of this.layout?.panes ?? []) this.feed.sync(this, pane.id, this.historyLines, 'full')
  }

  // ---- layout and size ----

  /** Asks tmux for the window's panes, tells the phone, and watches what it shows. One at a time. */
  private async refreshLayout(): Promise<void> {
    if (this.layoutBusy) {
      this.layoutAgain = true
      return
    }
    this.layoutBusy = true
    try {
      do {
        this.layoutAgain = false
        let next: WindowLayout
        try {
          next = await windowLayout((commands) => this.feed.client.run(commands), this.target.window.id)
        } catch {
          return void this.explainEnd()
        }
        if (this.store.isDisposed) return
        this.applyLayout(next)
      } while (this.layoutAgain)
    } finally {
      this.layoutBusy = false
    }
  }

  private applyLayout(next: WindowLayout): void {
    const previous = this.layout
    this.layout = next
    this.sessionName = next.sessionName
    this.fitted = this.fitted && this.options.sizes.holds(this, this.target.window.id)
    this.sendFrame({
      type: 'layout',
      session: next.sessionName,
      window: { index: next.windowIndex, name: next.windowName },
      cols: next.cols,
      rows: next.rows,
      zoomed: next.zoomed,
      panes: next.panes,
      fitted: this.fitted,
    })
    const ids = next.panes.map((p) => p.id)
    this.feed.watch(this, ids, this.historyLines)
    // A pane tmux resized was reflowed by tmux: the phone starts it again from tmux's state.
    for (const pane of next.panes) {
      const before = previous?.panes.find((p) => p.id === pane.id)
      if (before && (before.cols !== pane.cols || before.rows !== pane.rows)) this.feed.sync(this, pane.id, this.historyLines, 'full')
    }
    if (this.focus.pane !== null && !ids.includes(this.focus.pane)) this.focus = { pane: null, zoom: false }
    if (previous === null && this.earlyInput.length > 0) {
      const early = Buffer.concat(this.earlyInput.splice(0))
      if (!this.readOnly) this.type(early)
    }
  }

  /** Size changes arrive in bursts (a keyboard sliding in): apply at most one per interval, the latest. */
  private scheduleClaim(): void {
    if (this.resizeTimer) return
    const wait = this.lastResizeAt + BRIDGE_LIMITS.resizeIntervalMs - Date.now()
    const apply = () => {
      this.resizeTimer = undefined
      this.lastResizeAt = Date.now()
      this.updateClaim()
    }
    if (wait <= 0) apply()
    else this.resizeTimer = setTimeout(apply, wait)
  }

  /**
   * `fit`: while the phone is visible and has typed, the window takes its
   * size (not when it shows one pane of several: that pane pans). Anything
   * else gives the window back. Read-only phones and watchers never hold it.
   */
  private updateClaim(): void {
    if (this.store.isDisposed) return
    const { sizes } = this.options
    const windowId = this.target.window.id
    const onePaneOfSeveral = this.focus.zoom && (this.layout?.panes.length ?? 1) > 1
    if (this.readOnly || this.options.sizePolicy !== 'fit' || !this.visible || !this.typed || onePaneOfSeveral) {
      if (sizes.holds(this, windowId)) {
        sizes.release(this, windowId)
        this.fitted = false
      }
      return
    }
    void sizes.claim(windowId, this, this.phone.cols, this.phone.rows).then((ok) => {
      if (this.fitted === ok || this.store.isDisposed) return
      this.fitted = ok
      void this.refreshLayout()
    })
  }

  /** The window, session or tmux went away: find out which, so the client can say so. */
  private async explainEnd(): Promise<void> {
    if (this.store.isDisposed) return
    const snapshot = await this.options.tmux.snapshot().catch(() => null)
    this.end(goneReason(this.target, snapshot) ?? { code: 'TMUX_EXITED', message: 'the tmux control client ended' })
  }
}
