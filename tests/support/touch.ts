import type { CDPSession } from 'playwright-core'

/** A point on the page, in CSS px. */
export interface Point {
  x: number
  y: number
}

/** Touch gestures through DevTools: the page sees real touch and pointer events, not synthetic DOM ones. */
export class Touch {
  constructor(private readonly cdp: CDPSession) {}

  /**
   * A one-finger swipe from `at` by (dx, dy) CSS px, the finger's own
   * movement (negative dy: it moves up), at `speed` px/s. It lifts while
   * moving (a flick) unless `hold` keeps it still first. The browser times
   * the touch events itself, so a busy machine does not change the gesture.
   */
  async swipe(at: Point, dx: number, dy: number, options: { speed?: number; hold?: boolean } = {}): Promise<void> {
    await this.cdp.send('Input.synthesizeScrollGesture', {
      x: Math.round(at.x),
      y: Math.round(at.y),
      xDistance: Math.round(dx),
      yDistance: Math.round(dy),
      speed: options.speed ?? 1500,
      gestureSourceType: 'touch',
      preventFling: options.hold ?? false,
    })
  }

  /** A finger held still at `at` for `ms`, then moved through `path` (if any), then lifted. */
  async press(at: Point, ms: number, path: Point[] = []): Promise<void> {
    await this.point('touchStart', at)
    await sleep(ms)
    for (const p of path) {
      await this.point('touchMove', p)
      await sleep(16)
    }
    await this.cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] })
  }

  /** Two fingers around `at` moving apart (`scale` > 1) or together, timed by the browser. */
  async pinch(at: Point, scale: number): Promise<void> {
    await this.cdp.send('Input.synthesizePinchGesture', { x: Math.round(at.x), y: Math.round(at.y), scaleFactor: scale, relativeSpeed: 400, gestureSourceType: 'touch' })
  }

  /** A finger put down at `from` and moved to `to` in small steps, exactly (for handles, where the end point matters). */
  async drag(from: Point, to: Point): Promise<void> {
    const steps = 8
    const path = Array.from({ length: steps }, (_, i) => ({ x: from.x + ((to.x - from.x) * (i + 1)) / steps, y: from.y + ((to.y - from.y) * (i + 1)) / steps }))
    await this.press(from, 50, path)
  }

  /** A quick tap. */
  async tap(at: Point): Promise<void> {
    await this.point('touchStart', at)
    await this.cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] })
  }

  private point(type: 'touchStart' | 'touchMove', at: Point): Promise<unknown> {
    return this.cdp.send('Input.dispatchTouchEvent', { type, touchPoints: [{ x: at.x, y: at.y, id: 0 }] })
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
