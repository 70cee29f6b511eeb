import type { DisposableStore } from '../lifetime.js'

/** Hold a finger still this long on the terminal to start a selection. */
export const SELECT_PRESS_MS = 500
/** A finger moving farther than this (CSS px) is a swipe, not a press. */
const MOVE_TOLERANCE_PX = 10
/** A release's speed is measured over the finger's last this many ms. */
const VELOCITY_WINDOW_MS = 80

export interface GestureHandlers {
  /** A finger touched the terminal (a running fling stops). */
  touch(x: number, y: number): void
  /** One finger held still for SELECT_PRESS_MS at (x, y). */
  press(x: number, y: number): void
  /** The finger that pressed moved on to (x, y) without lifting (extends a selection). */
  pressMove(x: number, y: number): void
  /** One finger moved by (dx, dy) CSS px since the last call; positive when it moves left or up. */
  drag(dx: number, dy: number): void
  /** The finger left while moving at (vx, vy) CSS px per ms, signed as `drag`. */
  release(vx: number, vy: number): void
  /** Two fingers: `change` gets their spread relative to where it started (1 is unchanged) and the point between them. */
  pinch: { start(): void; change(ratio: number, x: number, y: number): void; end(): void }
}

/**
 * Touch gestures on the terminal, recognized from pointer events (Chrome
 * keeps pointer events flowing where it throttles touchmove): a press, a
 * one-finger drag with its release speed, and a two-finger pinch. What each
 * does is the handlers' business. The host has `touch-action: none`, so the
 * browser itself neither pans nor zooms the page.
 */
export function addTerminalGestures(store: DisposableStore, host: HTMLElement, handlers: GestureHandlers): void {
  const fingers = new Map<number, { x: number; y: number }>()
  let pressTimer: ReturnType<typeof setTimeout> | undefined
  let start = { x: 0, y: 0 }
  let last = { x: 0, y: 0 }
  /** What the one finger on the glass is doing; `none` after a pinch until it lifts. */
  let finger: 'none' | 'still' | 'dragging' | 'pressed' = 'none'
  /** Recent positions of the dragging finger, for its speed when it leaves. */
  let samples: { x: number; y: number; t: number }[] = []
  let pinchDistance: number | undefined
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
      finger = 'none'
      pinchDistance = spread()
      handlers.pinch.start()
      return
    }
    if (fingers.size !== 1) return
    start = last = { x: event.clientX, y: event.clientY }
    finger = 'still'
    samples = [{ ...start, t: event.timeStamp }]
    handlers.touch(start.x, start.y)
    pressTimer = setTimeout(() => {
      pressTimer = undefined
      finger = 'pressed'
      handlers.press(start.x, start.y)
    }, SELECT_PRESS_MS)
  })
  on('pointermove', (event) => {
    if (!fingers.has(event.pointerId)) return
    fingers.set(event.pointerId, { x: event.clientX, y: event.clientY })
    if (pinchDistance !== undefined && fingers.size === 2) {
      const [a, b] = [...fingers.values()] as [{ x: number; y: number }, { x: number; y: number }]
      handlers.pinch.change(spread() / Math.max(1, pinchDistance), (a.x + b.x) / 2, (a.y + b.y) / 2)
      return
    }
    if (fingers.size !== 1) return
    if (finger === 'pressed') return handlers.pressMove(event.clientX, event.clientY)
    if (finger === 'still' && Math.hypot(event.clientX - start.x, event.clientY - start.y) > MOVE_TOLERANCE_PX) {
      cancelPress()
      finger = 'dragging'
    }
    if (finger !== 'dragging') return
    handlers.drag(last.x - event.clientX, last.y - event.clientY)
    last = { x: event.clientX, y: event.clientY }
    samples.push({ ...last, t: event.timeStamp })
    while (samples.length > 2 && event.timeStamp - samples[0]!.t > VELOCITY_WINDOW_MS) samples.shift()
  })
  const end = (event: PointerEvent) => {
    if (!fingers.delete(event.pointerId)) return
    cancelPress()
    if (pinchDistance !== undefined && fingers.size < 2) {
      pinchDistance = undefined
      handlers.pinch.end()
      return
    }
    if (finger === 'dragging' && event.type === 'pointerup') {
      const first = samples[0]
      const elapsed = first ? event.timeStamp - first.t : 0
      // A finger that stopped before lifting does not fling.
      if (first && elapsed > 0 && elapsed <= VELOCITY_WINDOW_MS * 2) handlers.release((first.x - event.clientX) / elapsed, (first.y - event.clientY) / elapsed)
    }
    finger = 'none'
  }
  on('pointerup', end)
  on('pointercancel', end)
}
