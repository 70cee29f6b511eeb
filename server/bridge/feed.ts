import type { HistoryExtent } from '../../protocol/index.js'
import type { HandoffError } from '../errors.js'
import { sendBytesCommand, type ControlClient, type SessionLease, type TmuxControl } from '../tmux/index.js'
import { snapshotCommands } from '../tmux/panes.js'
import { renderSync, type SyncKind } from './sync.js'

/** One viewer of panes: a terminal socket. */
export interface PaneViewer {
  /** Output of a pane the viewer watches, as the program wrote it. */
  output(pane: number, data: Buffer): void
  /** Bytes that bring the viewer to the pane's state (renderSync); a `full` one says how much history it carries. */
  redraw(pane: number, kind: SyncKind, data: Buffer, history?: HistoryExtent): void
  /** A notification from tmux about the session (`layout-change`, `window-renamed` …). */
  notification(name: string, args: string): void
  /** The pane is streamed again after frames: the viewer should sync it (`SessionFeed.sync`). */
  resync(pane: number): void
  /** The control client went away: the viewer must end. */
  lost(reason: string): void
  /** The viewer is too far behind to take output (it syncs afresh once it catches up). */
  readonly stalled: boolean
}

export const FEED_LIMITS = {
  /** A pane writing more than this… */
  floodBytes: 256 * 1024,
  /** …within this many ms is shown as frames of its screen instead of as a stream. */
  floodWindowMs: 100,
  /** How often a flooding pane's screen is sent. */
  frameMs: 50,
  /** A flooding pane is tried as a stream again after this long, even while its screen still changes. */
  framesMaxMs: 1_000,
} as const

interface PaneState {
  viewers: Set<PaneViewer>
  /** Bytes since `windowStart`, for telling a flood. */
  bytes: number
  windowStart: number
  /** Set while the pane is shown as frames: tmux holds its output back (`refresh-client -A %N:pause`). */
  frames: { timer: NodeJS.Timeout; since: number; lastScreen: string; busy: boolean } | null
}

/**
 * Everything the terminals of one tmux session share: the control client
 * attached to the session, the panes each watches, and how a pane's output
 * reaches them. Output streams as the program wrote it; a pane that floods
 * (a build log, `cat` of a big file) is paused in tmux and sent as frames of
 * its screen, as tmux itself redraws a slow terminal, then streamed again.
 */
export class SessionFeed {
  private readonly panes = new Map<number, PaneState>()
  /** Viewers waiting for a sync of a pane: its output is not theirs until the sync arrives. */
  private readonly syncing = new Map<PaneViewer, Set<number>>()
  private readonly viewers = new Set<PaneViewer>()
  /** Panes we told tmux to stop sending, because no one watches them. */
  private readonly silenced = new Set<number>()
  private lease: SessionLease | undefined
  private ended = false

  private constructor(readonly sessionId: string) {}

  /** Attaches (or joins) the control client on session `sessionId`. */
  static async open(control: TmuxControl, sessionId: string): Promise<SessionFeed> {
    const feed = new SessionFeed(sessionId)
    feed.lease = await control.watch(sessionId, {
      output: (pane, data) => feed.onOutput(pane, data),
      notification: (name, args) => feed.onNotification(name, args),
      lost: (reason) => feed.onLost(reason),
    })
    return feed
  }

  get client(): ControlClient {
    if (!this.lease) throw new Error('SessionFeed used before open')
    return this.lease.client
  }

  get isEnded(): boolean {
    return this.ended
  }

  get viewerCount(): number {
    return this.viewers.size
  }

  join(viewer: PaneViewer): void {
    this.viewers.add(viewer)
  }

  /** Stops everything for `viewer`; returns whether any viewer is left. */
  leave(viewer: PaneViewer): boolean {
    this.viewers.delete(viewer)
    this.syncing.delete(viewer)
    for (const [pane, state] of this.panes) {
      state.viewers.delete(viewer)
      if (state.viewers.size === 0) this.forgetPane(pane, state)
    }
    return this.viewers.size > 0
  }

  /** Ends the feed's hold on the control client. */
  close(): void {
    if (this.ended) return
    this.ended = true
    for (const [pane, state] of this.panes) this.forgetPane(pane, state)
    this.lease?.release()
  }

  /**
   * `viewer` watches exactly `panes` from now on; each newly watched pane is
   * synced with up to `historyLines` of history. Others stop.
   */
  watch(viewer: PaneViewer, panes: readonly number[], historyLines: number): void {
    const wanted = new Set(panes)
    for (const [pane, state] of this.panes) {
      if (!wanted.has(pane) && state.viewers.delete(viewer) && state.viewers.size === 0) this.forgetPane(pane, state)
    }
    for (const pane of wanted) {
      let state = this.panes.get(pane)
      if (!state) this.panes.set(pane, (state = { viewers: new Set(), bytes: 0, windowStart: 0, frames: null }))
      if (state.viewers.has(viewer)) continue
      state.viewers.add(viewer)
      this.sync(viewer, pane, historyLines, 'full')
    }
  }

  /**
   * Sends `viewer` the pane's state as tmux holds it now. Output tmux wrote
   * before that instant is in the sync and not sent; output after it follows.
   */
  sync(viewer: PaneViewer, pane: number, historyLines: number, kind: SyncKind): void {
    let waiting = this.syncing.get(viewer)
    if (!waiting) this.syncing.set(viewer, (waiting = new Set()))
    waiting.add(pane)
    const { commands, parse } = snapshotCommands(pane, historyLines)
    const resume = this.silenced.delete(pane) ? [['refresh-client', '-A', `%${pane}:on`]] : []
    this.client.send([...resume, ...commands], (err, replies) => {
      this.syncing.get(viewer)?.delete(pane)
      if (err || !this.panes.get(pane)?.viewers.has(viewer)) return
      const snapshot = parse(replies.slice(resume.length))
      const sent = snapshot.history.length
      viewer.redraw(pane, kind, renderSync(snapshot, kind), kind === 'full' ? { history: sent, more: snapshot.modes.historySize > sent } : undefined)
    })
  }

  /** Sends raw input bytes to pane `%pane` as keys (exact bytes, whatever the pane's modes). */
  sendKeys(pane: number, data: Buffer, onError: (err: HandoffError) => void): void {
    this.client.send([sendBytesCommand(`%${pane}`, data)], (err) => err && onError(err))
  }

  /**
   * Pastes `text` into pane `%pane` through a tmux buffer that lives for one
   * command line: tmux adds bracketed-paste markers exactly when the program
   * asked for them, and turns line feeds into carriage returns as a paste does.
   */
  paste(pane: number, text: string, onError: (err: HandoffError) => void): void {
    const buffer = `handoff-paste-${process.pid}-${pasteCounter++}`
    this.client.send(
      [
        ['set-buffer', '-b', buffer, '--', text],
        ['paste-buffer', '-d', '-p', '-b', buffer, '-t', `%${pane}`],
      ],
      (err) => err && onError(err),
    )
  }

  private onOutput(pane: number, data: Buffer): void {
    const state = this.panes.get(pane)
    if (!state) {
      // Output of a pane no one here watches: ask tmux once to stop sending it.
      if (!this.silenced.has(pane) && !this.ended) {
        this.silenced.add(pane)
        this.client.send([['refresh-client', '-A', `%${pane}:off`]], () => {})
      }
      return
    }
    if (state.frames) return // paused: bytes tmux sent before the pause are in the next frame
    const now = performance.now()
    if (now - state.windowStart > FEED_LIMITS.floodWindowMs) {
      state.windowStart = now
      state.bytes = 0
    }
    state.bytes += data.length
    // A flood, or no one able to take it: tmux holds the output back, frames show the screen.
    if (state.bytes > FEED_LIMITS.floodBytes || allStalled(state.viewers)) return this.startFrames(pane, state, true)
    for (const viewer of state.viewers) if (!this.syncing.get(viewer)?.has(pane)) viewer.output(pane, data)
  }

  private onNotification(name: string, args: string): void {
    if (name === 'pause') {
      // tmux paused a pane we fell behind on (pause-after): show it as frames until it calms down.
      const pane = Number(args.slice(1))
      const state = this.panes.get(pane)
      if (state && !state.frames) this.startFrames(pane, state, false)
      return
    }
    for (const viewer of [...this.viewers]) viewer.notification(name, args)
  }

  private onLost(reason: string): void {
    if (this.ended) return
    this.close()
    for (const viewer of [...this.viewers]) viewer.lost(reason)
  }

  private startFrames(pane: number, state: PaneState, pause: boolean): void {
    if (pause) this.client.send([['refresh-client', '-A', `%${pane}:pause`]], () => {})
    const frames = { timer: setInterval(() => this.frame(pane, state), FEED_LIMITS.frameMs), since: performance.now(), lastScreen: '', busy: false }
    state.frames = frames
  }

  /** One frame of a paused pane: its screen now; back to streaming once it stands still (or after a while). */
  private frame(pane: number, state: PaneState): void {
    const frames = state.frames
    if (!frames || frames.busy) return
    frames.busy = true
    const { commands, parse } = snapshotCommands(pane, 0)
    this.client.send(commands, (err, replies) => {
      frames.busy = false
      if (err || state.frames !== frames) return
      const snapshot = parse(replies)
      const screen = snapshot.screen.join('\n')
      const still = screen === frames.lastScreen
      frames.lastScreen = screen
      if (still || performance.now() - frames.since > FEED_LIMITS.framesMaxMs) return this.stopFrames(pane, state)
      const data = renderSync(snapshot, 'screen')
      for (const viewer of state.viewers) if (!this.syncing.get(viewer)?.has(pane)) viewer.redraw(pane, 'screen', data)
    })
  }

  /** Streams the pane again, each viewer starting from a sync (with the history that scrolled by meanwhile). */
  private stopFrames(pane: number, state: PaneState): void {
    if (!state.frames) return
    clearInterval(state.frames.timer)
    state.frames = null
    state.bytes = 0
    state.windowStart = performance.now()
    this.client.send([['refresh-client', '-A', `%${pane}:continue`]], () => {})
    for (const viewer of state.viewers) viewer.resync(pane)
  }

  private forgetPane(pane: number, state: PaneState): void {
    if (state.frames) {
      clearInterval(state.frames.timer)
      state.frames = null
      if (!this.ended) this.client.send([['refresh-client', '-A', `%${pane}:continue`]], () => {})
    }
    this.panes.delete(pane)
  }
}

let pasteCounter = 0

function allStalled(viewers: Set<PaneViewer>): boolean {
  for (const viewer of viewers) if (!viewer.stalled) return false
  return viewers.size > 0
}
