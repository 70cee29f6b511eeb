import type { Terminal } from '@xterm/xterm'
import type { HistoryExtent } from '../../protocol/index.js'
import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'

/** A fling slows by this factor every 16 ms… */
const FLING_FRICTION = 0.95
/** …and stops below this speed (CSS px per ms). A release slower than it does not fling at all. */
const FLING_MIN_SPEED = 0.05
/** A program gets at most this many wheel reports per animation frame: a fast fling must not flood it. */
const PROGRAM_LINES_PER_FRAME = 3
/** Older history is fetched in steps: at least this many lines more, or double what the phone has. */
const HISTORY_STEP_LINES = 1000

export interface ScrollHandlers {
  /** Asks the server for up to `lines` of the shown pane's history (the user reached the top of what the phone has). */
  loadOlder(lines: number): void
  /** The most history lines the server sends. */
  readonly maxHistoryLines: number
}

/**
 * Scrolling that follows what the phone shows. A swipe scrolls:
 * - the program, when it asked for mouse input (vim with `mouse=a`, htop,
 *   `less --mouse`): as wheel reports, which xterm.js encodes for the
 *   program's mouse protocol;
 * - a full-screen program without mouse input (the alternate screen): as
 *   arrow keys, which xterm.js sends for a wheel where there is no scrollback;
 * - otherwise the pane's history in the scrollback, fetching older lines from
 *   tmux as the user reaches the top of what the phone has.
 * A release flings with momentum. While the user reads older lines, new
 * output does not move the view; "↓ Live" (or typing) returns to the bottom.
 */
export class TerminalScroller implements Disposable {
  /** The "↓ Live" chip, shown while the view is scrolled back. */
  readonly liveChip: HTMLButtonElement
  /** "Loading older lines…", shown while a history request is out. */
  readonly historyNote: HTMLElement
  private readonly store = new DisposableStore()
  /** Finger travel not yet turned into whole lines, in CSS px (positive: towards newer lines). */
  private pendingPx = 0
  /** Where wheel reports point (a program such as vim scrolls the split under the finger). */
  private point = { x: 0, y: 0 }
  private flingFrame = 0
  private history: HistoryExtent = { history: 0, more: false }
  private loading = false
  /** Lines from the bottom the reader was at when a full sync started: it keeps its place in the new history. */
  private keepFromBottom: number | undefined

  constructor(
    private readonly term: Terminal,
    private readonly handlers: ScrollHandlers,
  ) {
    this.liveChip = h('button', { type: 'button', class: 'live-chip primary', 'data-testid': 'scroll-live', hidden: true, title: 'Back to the live screen' }, '↓ Live')
    this.historyNote = h('div', { class: 'history-note', 'data-testid': 'history-loading', role: 'status', hidden: true }, 'Loading older lines…')
    this.store.listen(this.liveChip, 'click', () => this.toLive())
    this.store.add(term.onScroll(() => this.showPosition()))
    this.store.defer(() => cancelAnimationFrame(this.flingFrame))
  }

  /** Whether the user is reading lines above the live screen. */
  get scrolledBack(): boolean {
    const buffer = this.term.buffer.active
    return buffer.viewportY < buffer.baseY
  }

  /** A finger went down: a running fling stops where it is. */
  hold(x: number, y: number): void {
    cancelAnimationFrame(this.flingFrame)
    this.flingFrame = 0
    this.pendingPx = 0
    this.point = { x, y }
  }

  /** The finger moved `dy` CSS px (up is positive: newer lines come into view, as the content follows the finger). */
  drag(dy: number): void {
    this.scrollBy(dy, Number.POSITIVE_INFINITY)
  }

  /** The finger left at `velocity` CSS px per ms (same sign as `drag`): the content keeps moving and slows down. */
  release(velocity: number): void {
    if (Math.abs(velocity) < FLING_MIN_SPEED) return
    let speed = velocity
    let last = performance.now()
    const step = (now: number) => {
      const elapsed = Math.min(64, now - last)
      last = now
      this.scrollBy(speed * elapsed, PROGRAM_LINES_PER_FRAME)
      speed *= FLING_FRICTION ** (elapsed / 16)
      this.flingFrame = Math.abs(speed) < FLING_MIN_SPEED ? 0 : requestAnimationFrame(step)
    }
    this.flingFrame = requestAnimationFrame(step)
  }

  /** Back to the live screen (the chip, or the user typing). */
  toLive(): void {
    cancelAnimationFrame(this.flingFrame)
    this.flingFrame = 0
    this.term.scrollToBottom()
    this.showPosition()
  }

  /** A full sync of the shown pane follows: it replaces the scrollback with `extent` lines of history. */
  fullSync(extent: Partial<HistoryExtent>): void {
    const buffer = this.term.buffer.active
    this.keepFromBottom = this.scrolledBack ? buffer.baseY - buffer.viewportY : undefined
    this.history = { history: extent.history ?? 0, more: extent.more ?? false }
    this.loading = false
    this.historyNote.hidden = true
  }

  /** Output was written: after a full sync, the reader is put back on the line they were reading. */
  written(): void {
    if (this.keepFromBottom !== undefined) {
      this.term.scrollToLine(Math.max(0, this.term.buffer.active.baseY - this.keepFromBottom))
      this.keepFromBottom = undefined
    }
    this.showPosition()
  }

  /** How many history lines the next sync should carry (for a new socket: what the user already scrolled back to). */
  get historyLines(): number {
    return this.history.history
  }

  dispose(): void {
    this.store.dispose()
  }

  private scrollBy(px: number, maxProgramLines: number): void {
    const rowHeight = rowHeightOf(this.term)
    if (!rowHeight) return
    this.pendingPx += px
    let lines = Math.trunc(this.pendingPx / rowHeight)
    if (lines === 0) return
    this.pendingPx -= lines * rowHeight
    if (this.programScrolls()) {
      lines = Math.sign(lines) * Math.min(Math.abs(lines), maxProgramLines)
      for (let i = 0; i < Math.abs(lines); i++) this.wheel(Math.sign(lines))
      return
    }
    const buffer = this.term.buffer.active
    if (lines < 0 && buffer.viewportY === 0) this.loadOlder()
    this.term.scrollLines(lines)
    this.showPosition()
  }

  /** The program takes the wheel: it asked for mouse input, or it is full-screen (no scrollback to scroll). */
  private programScrolls(): boolean {
    return this.term.modes.mouseTrackingMode !== 'none' || this.term.buffer.active.type === 'alternate'
  }

  /** One wheel notch at the finger: xterm.js turns it into a mouse report or an arrow key, as the program's modes say. */
  private wheel(direction: number): void {
    const screen = this.term.element?.querySelector('.xterm-screen')
    if (!screen) return
    const rect = screen.getBoundingClientRect()
    const clientX = Math.min(Math.max(this.point.x, rect.left + 1), rect.right - 1)
    const clientY = Math.min(Math.max(this.point.y, rect.top + 1), rect.bottom - 1)
    screen.dispatchEvent(new WheelEvent('wheel', { deltaY: direction, deltaMode: WheelEvent.DOM_DELTA_LINE, clientX, clientY, bubbles: true, cancelable: true }))
  }

  private loadOlder(): void {
    if (this.loading || !this.history.more || this.history.history >= this.handlers.maxHistoryLines) return
    this.loading = true
    this.historyNote.hidden = false
    const have = this.history.history
    this.handlers.loadOlder(Math.min(this.handlers.maxHistoryLines, Math.max(have + HISTORY_STEP_LINES, have * 2)))
  }

  private showPosition(): void {
    this.liveChip.hidden = !this.scrolledBack
  }
}

/** One row's height on screen (scaled at desktop size), or 0 before layout. */
export function rowHeightOf(term: Terminal): number {
  const screen = term.element?.querySelector('.xterm-screen')
  const height = screen?.getBoundingClientRect().height ?? 0
  return height / Math.max(1, term.rows)
}
