import type { ClientFrame, CloseCodes, HistoryExtent, PaneHeaderBytes, ServerFrame, SizePolicy } from '../../protocol/index.js'
import { ApiError, listWindows } from '../api.js'
import { AckBatcher, inputFrames } from './flow.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { takeEarlySocket } from '../shell/early-socket.js'

export type { SizePolicy }
/** The window as the server describes it: names and panes (docs/protocol.md#frames). */
export type WindowLayout = Extract<ServerFrame, { type: 'layout' }>

/** One tmux window, as the terminal WebSocket addresses it. */
export interface TerminalTarget {
  session: string
  window: number
}

export type ConnectionState = 'connecting' | 'live' | 'offline'

export interface TermSocketHandlers {
  /** The phone's size in cells, sent with every (re)connect: what `fit` asks the window to take. */
  size(): { cols: number; rows: number }
  /** History lines to start each pane with, read at every (re)connect. */
  historyLines(): number
  /** The window's names and panes: first on every socket, then on every change. */
  layout(layout: WindowLayout): void
  /** The next output of `pane` brings it to tmux's state (`full`: from a reset, with `history` lines and maybe `more`). */
  sync(pane: number, kind: 'full' | 'screen', history: Partial<HistoryExtent>): void
  /** Renders a pane's output; `rendered` must be called once it is on screen. */
  output(pane: number, bytes: Uint8Array, rendered: () => void): void
  state(state: ConnectionState): void
  /** The terminal is over for good (window closed, detached…); `message` says why. */
  ended(message: string): void
  /**
   * The server took this phone's access to the window away (close 4403:
   * the device was revoked, or its sessions or mode changed). Not retried.
   */
  accessEnded(message: string): void
}

export interface TermSocketOptions {
  /** Read at every (re)connect; default `fit`. */
  sizePolicy?(): SizePolicy
}

/**
 * A socket that was open while the page was hidden this long may be dead
 * without knowing it (a phone's radio sleeps, NAT forgets): on return it is
 * replaced at once rather than waiting for the server's 20 s heartbeat.
 */
export const STALE_AFTER_HIDDEN_MS = 5_000

/** Reconnect delays start here and double per failed attempt… */
export const RECONNECT_MIN_DELAY_MS = 250
/** …up to this: the computer coming back is noticed within a second (a hidden page's timers are slowed by the browser anyway). */
export const RECONNECT_MAX_DELAY_MS = 1_000

/** Exit codes after which reconnecting would show nothing (docs/protocol.md#frames). */
const FINAL_EXIT_CODES = new Set(['DETACHED', 'WINDOW_CLOSED', 'SESSION_CLOSED'])
const CLOSE: Pick<CloseCodes, 'normal' | 'notFound' | 'accessEnded'> = { normal: 1000, notFound: 4404, accessEnded: 4403 }
const PANE_HEADER: PaneHeaderBytes = 4

/**
 * The terminal WebSocket for one tmux window, kept open until `dispose()`:
 * it reconnects with exponential backoff after abnormal closes and ends
 * (through `handlers.ended`) only when the window is really gone.
 */
export class TermSocket implements Disposable {
  private readonly store = new DisposableStore()
  /** Everything belonging to the current socket; replaced on reconnect. */
  private connection: DisposableStore | undefined
  private socket: WebSocket | undefined
  private failedAttempts = 0
  private retry: Disposable | undefined
  private readonly encoder = new TextEncoder()
  private hiddenAt: number | undefined
  /** Sent again on every new socket: the server forgets it with the old one. */
  private focused: { pane: number; zoom: boolean } | undefined

  constructor(
    private readonly target: TerminalTarget,
    private readonly handlers: TermSocketHandlers,
    private readonly options: TermSocketOptions = {},
  ) {
    this.store.defer(() => this.connection?.dispose())
    // A phone waking up or regaining signal should not wait out the backoff;
    // a new network also means the old socket's path is likely gone.
    this.store.listen(window, 'online', () => this.retryNow(true))
    this.store.listen(document, 'visibilitychange', () => {
      // The server sends no push for a tab the phone is looking at (docs/protocol.md).
      this.sendVisibility()
      if (document.visibilityState === 'hidden') {
        this.hiddenAt = Date.now()
        return
      }
      const hiddenFor = this.hiddenAt === undefined ? 0 : Date.now() - this.hiddenAt
      this.hiddenAt = undefined
      this.retryNow(hiddenFor >= STALE_AFTER_HIDDEN_MS)
    })
    this.connect()
  }

  /**
   * Replaces the socket with a new one now (the menu's Reconnect, a changed
   * size policy). The new socket starts every pane from a full sync.
   */
  reconnect(): void {
    if (this.store.isDisposed) return
    this.retry?.dispose()
    this.retry = undefined
    this.connection?.dispose()
    this.connect()
  }

  /** Sends keyboard input (text is UTF-8 encoded); dropped while offline. */
  input(data: string | Uint8Array<ArrayBuffer>): void {
    const bytes = typeof data === 'string' ? this.encoder.encode(data) : data
    for (const frame of inputFrames(bytes)) this.sendIfLive(frame)
  }

  /** The phone's size in cells: with `fit`, what the window takes once the phone types. */
  resize(cols: number, rows: number): void {
    if (this.sizePolicy() === 'desktop') return
    this.sendControl({ type: 'resize', cols, rows })
  }

  /** Pasted text: tmux brackets it exactly when the program asked for bracketed paste. */
  paste(text: string): void {
    this.sendControl({ type: 'paste', text })
  }

  /** Syncs `pane` again with up to `lines` of history: the user scrolled back to the top of what the phone has. */
  history(pane: number, lines: number): void {
    this.sendControl({ type: 'history', pane, lines })
  }

  /** Keys go to `pane`; `zoom`: the phone shows only that pane of several. */
  focus(pane: number, zoom: boolean): void {
    this.focused = { pane, zoom }
    this.sendControl({ type: 'focus', pane, zoom })
  }

  dispose(): void {
    this.store.dispose()
  }

  private connect(): void {
    const connection = new DisposableStore()
    this.connection = connection
    this.handlers.state('connecting')

    const requestedSize = this.handlers.size()
    const url = socketUrl(this.target, requestedSize, this.sizePolicy(), this.handlers.historyLines())
    // A deep link's socket, opened as the app started, asked with a size guessed before any fit.
    const early = takeEarlySocket(url)
    const socket = early ?? new WebSocket(url)
    socket.binaryType = 'arraybuffer'
    this.socket = socket
    connection.defer(() => {
      this.socket = undefined
      // Code 1000 tells the server we left on purpose (a detach, not a drop).
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
        socket.close(CLOSE.normal)
      }
    })
    const acks = connection.add(new AckBatcher((bytes) => this.sendOn(socket, JSON.stringify({ type: 'ack', bytes } satisfies ClientFrame))))
    let opened = false
    let exitFrame: Extract<ServerFrame, { type: 'exit' }> | undefined

    connection.listen(socket, 'open', () => {
      opened = true
      this.handlers.state('live')
      this.sendVisibility()
      if (this.focused) this.sendControl({ type: 'focus', ...this.focused })
      // Resizes while connecting had no socket to go to; an early socket asked with a guess.
      const { cols, rows } = this.handlers.size()
      if (early || cols !== requestedSize.cols || rows !== requestedSize.rows) this.resize(cols, rows)
    })
    connection.listen(socket, 'message', (event) => {
      const { data } = event as MessageEvent<ArrayBuffer | string>
      if (typeof data === 'string') {
        const frame = parseServerFrame(data)
        if (frame?.type === 'exit') exitFrame = frame
        else if (frame?.type === 'layout') this.handlers.layout(frame)
        else if (frame?.type === 'sync') this.handlers.sync(frame.pane, frame.kind, frame)
        else if (frame?.type === 'error') console.warn(`handoff: server refused a frame: ${frame.code}: ${frame.message}`)
        return
      }
      // Output flowing means this socket works: the next drop starts the backoff afresh.
      this.failedAttempts = 0
      if (data.byteLength < PANE_HEADER) return
      const pane = new DataView(data).getUint32(0)
      this.handlers.output(pane, new Uint8Array(data, PANE_HEADER), () => acks.rendered(data.byteLength))
    })
    connection.listen(socket, 'close', (event) => {
      const { code } = event as CloseEvent
      this.socket = undefined
      connection.dispose()
      if (code === CLOSE.accessEnded) {
        return this.handlers.accessEnded(exitFrame?.message ?? 'This phone no longer has access to this window.')
      }
      if (exitFrame && FINAL_EXIT_CODES.has(exitFrame.code)) return this.handlers.ended(exitFrame.message)
      if (code === CLOSE.normal) return this.handlers.ended('Detached from tmux.')
      if (code === CLOSE.notFound) return this.handlers.ended('The tmux window was closed.')
      // Refused upgrades (404, 503…) reach the browser only as 1006, so ask
      // the HTTP API whether the window still exists before retrying.
      if (!opened) void this.checkTargetThenRetry()
      else this.scheduleRetry()
    })
  }

  private async checkTargetThenRetry(): Promise<void> {
    const gone = await this.whyTargetIsGone()
    if (this.store.isDisposed) return
    if (gone) this.handlers.ended(gone)
    else this.scheduleRetry()
  }

  /** A message if the session or window no longer exists, else undefined (including when unsure). */
  private async whyTargetIsGone(): Promise<string | undefined> {
    try {
      const windows = await listWindows(this.target.session)
      if (windows.some((w) => w.index === this.target.window)) return undefined
      return `Window ${this.target.window} of session "${this.target.session}" no longer exists.`
    } catch (error) {
      // SESSION_NOT_ALLOWED: the phone's grant does not cover it, and retrying will not change that.
      if (error instanceof ApiError && (error.code === 'SESSION_NOT_FOUND' || error.code === 'SESSION_NOT_ALLOWED')) {
        return error.message
      }
      return undefined
    }
  }

  private scheduleRetry(): void {
    if (this.store.isDisposed) return
    this.handlers.state('offline')
    const delay = Math.min(RECONNECT_MIN_DELAY_MS * 2 ** this.failedAttempts, RECONNECT_MAX_DELAY_MS)
    this.failedAttempts++
    this.retry = this.store.timeout(() => {
      this.retry = undefined
      this.connect()
    }, delay)
  }

  /** Connects now if a retry is waiting; with `evenIfOpen`, also replaces an open socket that may be dead. */
  private retryNow(evenIfOpen = false): void {
    if (this.store.isDisposed) return
    if (this.retry) {
      this.retry.dispose()
      this.retry = undefined
      this.connect()
    } else if (evenIfOpen && this.socket?.readyState === WebSocket.OPEN) {
      this.reconnect()
    }
  }

  private sizePolicy(): SizePolicy {
    return this.options.sizePolicy?.() ?? 'fit'
  }

  private sendVisibility(): void {
    this.sendControl({ type: 'visibility', visible: document.visibilityState === 'visible' })
  }

  private sendControl(frame: ClientFrame): void {
    this.sendIfLive(JSON.stringify(frame))
  }

  private sendIfLive(frame: string | Uint8Array<ArrayBuffer>): void {
    if (this.socket) this.sendOn(this.socket, frame)
  }

  private sendOn(socket: WebSocket, frame: string | Uint8Array<ArrayBuffer>): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(frame)
  }
}

/** The terminal socket's address for `target`: the phone's size, size policy and history travel in the query. */
export function socketUrl(target: TerminalTarget, size: { cols: number; rows: number }, policy: SizePolicy, history: number): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const path = `/api/term/${encodeURIComponent(target.session)}/${target.window}`
  return `${scheme}//${location.host}${path}?cols=${size.cols}&rows=${size.rows}&size=${policy}&history=${history}`
}

/** A text frame from the server, or undefined when it is none we know (a newer server's, say). */
function parseServerFrame(text: string): ServerFrame | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const frame = value as { type?: unknown }
  return frame.type === 'exit' || frame.type === 'error' || frame.type === 'layout' || frame.type === 'sync' ? (value as ServerFrame) : undefined
}
