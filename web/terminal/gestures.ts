import type { Terminal } from '@xterm/xterm'
import type { DisposableStore } from '../lifetime.js'

/** Hold a finger still this long on the terminal to select the word under it. */
export const SELECT_PRESS_MS = 500
/** A finger moving farther than this (CSS px) is a swipe, not a press. */
const MOVE_TOLERANCE_PX = 10

/**
 * Touch gestures on the terminal, from pointer events (Chrome keeps
 * pointer events flowing where it throttles touchmove): a vertical swipe
 * scrolls xterm's scrollback (xterm.js scrolls only by wheel), a long-press
 * selects the word under the finger (the Copy button then copies it), and
 * a two-finger pinch changes the font size. The host has `touch-action:
 * none`, so the browser itself neither pans nor zooms the page.
 */
export function addTerminalGestures(
  store: DisposableStore,
  term: Terminal,
  host: HTMLElement,
  pinch: { start(): number; change(fontSize: number): void; end(): void },
): void {
  const fingers = new Map<number, { x: number; y: number }>()
  let pressTimer: ReturnType<typeof setTimeout> | undefined
  let start = { x: 0, y: 0 }
  let lastY = 0
  let swiping = false
  /** Finger travel not yet turned into whole lines, in CSS px. */
  let pending = 0
  let pinchStart: { distance: number; fontSize: number } | undefined
  const cancelPress = () => {
    clearTimeout(pressTimer)
    pressTimer = undefined
  }
  store.defer(cancelPress)
  const spread = () => {
    const [a, b] = [...fingers.values()]
    return a && b ? Math.hypot(a.x - b.x, a.y - b.y) : 0
  }

  const on = (type: string, listener: (event: PointerEvent) => void) => {
    const wrapped = (event: Event) => {
      if ((event as PointerEvent).pointerType === 'touch') listener(event as PointerEvent)
    }
    host.addEventListener(type, wrapped, { capture: true, passive: true })
    store.defer(() => host.removeEventListener(type, wrapped, { capture: true }))
  }

  on('pointerdown', (event) => {
    fingers.set(event.pointerId, { x: event.clientX, y: event.clientY })
    cancelPress()
    if (fingers.size === 2) {
      swiping = false
      pinchStart = { distance: spread(), fontSize: pinch.start() }
      return
    }
    if (fingers.size !== 1) return
    start = { x: event.clientX, y: event.clientY }
    lastY = event.clientY
    swiping = false
    pending = 0
    pressTimer = setTimeout(() => {
      pressTimer = undefined
      selectWordAt(term, start.x, start.y)
      navigator.vibrate?.(10)
    }, SELECT_PRESS_MS)
  })
  on('pointermove', (event) => {
    if (!fingers.has(event.pointerId)) return
    fingers.set(event.pointerId, { x: event.clientX, y: event.clientY })
    if (pinchStart && fingers.size === 2) {
      pinch.change(pinchStart.fontSize * (spread() / Math.max(1, pinchStart.distance)))
      return
    }
    if (fingers.size !== 1) return
    if (!swiping && Math.hypot(event.clientX - start.x, event.clientY - start.y) > MOVE_TOLERANCE_PX) {
      cancelPress()
      swiping = true
    }
    if (!swiping) return
    // Content follows the finger: moving it down shows earlier lines.
    pending += lastY - event.clientY
    lastY = event.clientY
    const rowHeight = rowHeightOf(term)
    if (!rowHeight) return
    const lines = Math.trunc(pending / rowHeight)
    if (lines !== 0) {
      term.scrollLines(lines)
      pending -= lines * rowHeight
    }
  })
  const end = (event: PointerEvent) => {
    fingers.delete(event.pointerId)
    cancelPress()
    if (pinchStart && fingers.size < 2) {
      pinchStart = undefined
      pinch.end()
    }
  }
  on('pointerup', end)
  on('pointercancel', end)
}

/** One row's height on screen (scaled at desktop size), or 0 before layout. */
function rowHeightOf(term: Terminal): number {
  const screen = term.element?.querySelector('.xterm-screen')
  const height = screen?.getBoundingClientRect().height ?? 0
  return height / Math.max(1, term.rows)
}

/** Selects the word (or, on a blank, the whole line) at a point on the screen. */
export function selectWordAt(term: Terminal, clientX: number, clientY: number): void {
  const screen = term.element?.querySelector('.xterm-screen')
  if (!screen) return
  const rect = screen.getBoundingClientRect()
  if (rect.width === 0 || rect.height === 0) return
  const col = Math.floor(((clientX - rect.left) / rect.width) * term.cols)
  const viewportRow = Math.floor(((clientY - rect.top) / rect.height) * term.rows)
  if (col < 0 || col >= term.cols || viewportRow < 0 || viewportRow >= term.rows) return
  const buffer = term.buffer.active
  const row = buffer.viewportY + viewportRow
  const text = buffer.getLine(row)?.translateToString(false) ?? ''
  const isWord = (ch: string | undefined) => ch !== undefined && ch !== ' ' && ch !== ''
  if (!isWord(text[col])) {
    const trimmed = text.trimEnd()
    if (trimmed) term.select(0, row, trimmed.length)
    return
  }
  let start = col
  let end = col
  while (start > 0 && isWord(text[start - 1])) start--
  while (end < text.length - 1 && isWord(text[end + 1])) end++
  term.select(start, row, end - start + 1)
}
