/**
 * The terminal WebSocket, `GET /api/term/:session/:window`
 * (docs/protocol.md#terminal-websocket). Types only.
 *
 * Binary frames, server → client: a 4-byte big-endian pane number (`%5` is
 * 5), then that pane's output bytes. Client → server: keyboard input for the
 * focused pane, raw bytes. Text frames carry one JSON object each.
 */

/** How many bytes precede a pane's output in a binary frame. */
export type PaneHeaderBytes = 4

/** Why a terminal ended: the `exit` frame's code, and the close reason. */
export type TerminalExitCode =
  | 'DETACHED'
  | 'WINDOW_CLOSED'
  | 'SESSION_CLOSED'
  | 'TMUX_EXITED'
  | 'SERVER_STOPPING'
  | 'DEVICE_REVOKED'
  | 'DEVICE_EXPIRED'
  | 'ACCESS_CHANGED'

/**
 * WebSocket close codes, by meaning. Each side declares its constant with
 * this type (`const CLOSE: CloseCodes = {…}`), so the values cannot drift.
 */
export interface CloseCodes {
  /** The tmux window detached, or the client closed. */
  normal: 1000
  /** The server is stopping. */
  goingAway: 1001
  /** A client message over the size limit. */
  tooLarge: 1009
  /** The device may no longer see this session: do not reconnect. */
  accessEnded: 4403
  /** The window or session was killed. */
  notFound: 4404
  /** tmux exited or failed: reconnecting may work. */
  tmuxFailed: 4500
}
export type TerminalCloseCode = CloseCodes[keyof CloseCodes]

/** The close code for each way a terminal ends. */
export type CloseCodeOf = {
  DETACHED: CloseCodes['normal']
  SERVER_STOPPING: CloseCodes['goingAway']
  WINDOW_CLOSED: CloseCodes['notFound']
  SESSION_CLOSED: CloseCodes['notFound']
  TMUX_EXITED: CloseCodes['tmuxFailed']
  DEVICE_REVOKED: CloseCodes['accessEnded']
  DEVICE_EXPIRED: CloseCodes['accessEnded']
  ACCESS_CHANGED: CloseCodes['accessEnded']
}

/** A pane's place in the window, in cells. */
export interface PaneJson {
  /** tmux's pane number (`%5` is 5); binary frames name panes by it. */
  id: number
  x: number
  y: number
  cols: number
  rows: number
  /** The window's active pane (where the desktop types). */
  active: boolean
}

/**
 * What a `full` sync carried of the pane's history: `history` lines into the
 * scrollback, and whether tmux holds older ones (`more`: ask with a
 * `history` frame as the user scrolls back to the top).
 */
export interface HistoryExtent {
  history: number
  more: boolean
}

/** `size=fit` asks the window to take the phone's size; `desktop` never changes it. */
export type SizePolicy = 'fit' | 'desktop'

export type ServerFrame =
  /** The window: names and panes. Sent first, and again whenever any of it changes. */
  | {
      type: 'layout'
      session: string
      window: { index: number; name: string }
      cols: number
      rows: number
      /** The desktop zoomed a pane: only it is listed, at the window's size. */
      zoomed: boolean
      panes: PaneJson[]
      /** Whether this phone's size is the window's now (fit, after it typed). */
      fitted: boolean
    }
  /**
   * The next binary frame for `pane` brings the terminal to the pane's state:
   * `full` starts over (reset, history, screen, modes); `screen` redraws the
   * screen and modes, keeping the scrollback.
   */
  | ({ type: 'sync'; pane: number; kind: 'full' | 'screen' } & Partial<HistoryExtent>)
  /** The terminal ended; sent just before the close. */
  | { type: 'exit'; code: TerminalExitCode; message: string }
  /** A client frame was refused; the socket stays open. */
  | { type: 'error'; code: 'BAD_CONTROL_MESSAGE'; message: string }

export type ClientFrame =
  /** The phone's size in cells: with `size=fit`, the size it asks the window to take once it types. */
  | { type: 'resize'; cols: number; rows: number }
  /** N more output bytes (whole binary frames) were rendered. */
  | { type: 'ack'; bytes: number }
  /** Whether the page is visible; hidden gives a fitted window back. */
  | { type: 'visibility'; visible: boolean }
  /** Keys go to pane `pane`; `zoom`: the phone shows only that pane (a fitted size then stays the desktop's). */
  | { type: 'focus'; pane: number; zoom: boolean }
  /** Pasted text: tmux brackets it when the program asked for bracketed paste. */
  | { type: 'paste'; text: string }
  /** Sync pane `pane` again with `lines` of history (the user scrolled back to the top of what it has). */
  | { type: 'history'; pane: number; lines: number }
