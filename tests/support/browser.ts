import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../server/index.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH, signInContext } from './chromium.js'
import type { TestDevice } from './device.js'
import { PrivateTmux, tempHome } from './tmux.js'

/** A phone as the browser tests drive one: mobile viewport, touch, 3× pixels. */
export const PHONE = { width: 390, height: 844 } as const

export interface BrowserHarness {
  tmux: PrivateTmux
  server: RunningServer
  home: string
  page: Page
  context: BrowserContext
  device: TestDevice
  /** Uncaught page errors and CSP refusals, collected all along; a test expects none. */
  problems: string[]
  /** Opens `path` and waits until its terminal is live (for `/t/…`) or the page loaded. */
  open(path: string): Promise<void>
  /** Real touch input, as a phone's screen sends it (through DevTools). */
  touch: Touch
  /** Stores this phone's terminal preferences (settings.ts) before the app reads them. */
  setTerminalPrefs(prefs: Record<string, unknown>): Promise<void>
  /** Stops the server (a computer going away); `restart` brings it back on the same port. */
  stopServer(): Promise<void>
  restartServer(): Promise<void>
  stop(): Promise<void>
}

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

let shared: Browser | undefined

/** One Chromium for the whole test file (launching one takes a second). */
export async function browserForTests(): Promise<Browser> {
  shared ??= await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
  return shared
}

export async function closeBrowserForTests(): Promise<void> {
  await shared?.close()
  shared = undefined
}

/**
 * A private tmux server with session `proj` (a bare `sh`), a Handoff server
 * on loopback over it, and a signed-in phone's page, with page errors and
 * CSP refusals collected from the start.
 */
export async function startBrowserHarness(
  options: { viewport?: { width: number; height: number }; grant?: { readOnly?: boolean } } = {},
): Promise<BrowserHarness> {
  const tmux = new PrivateTmux()
  tmux.newSession('proj', '/bin/sh')
  const { home, remove } = tempHome()
  let server = await startServer({ port: 0, tmuxSocket: tmux.socket, home, log: () => {} })
  const browser = await browserForTests()
  const context = await browser.newContext({ viewport: options.viewport ?? PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 3 })
  const device = await signInContext(context, home, server.url, options.grant ?? {})
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) problems.push(`csp: ${message.text()}`)
  })
  const port = server.port
  let serving = true
  const touch = new Touch(await context.newCDPSession(page))
  return {
    touch,
    async setTerminalPrefs(prefs) {
      await page.addInitScript(([key, value]) => localStorage.setItem(key, value), [`handoff.terminal.${device.record.id}`, JSON.stringify(prefs)] as const)
    },
    tmux,
    get server() {
      return server
    },
    home,
    page,
    context,
    device,
    problems,
    async open(path) {
      await page.goto(`${server.url}${path}`)
      // Attached, not visible: in landscape the title bar with the status is collapsed.
      if (path.startsWith('/t/')) await page.getByTestId('status').and(page.locator('[data-state="live"]')).waitFor({ state: 'attached', timeout: 15_000 })
    },
    async stopServer() {
      serving = false
      await server.close()
    },
    async restartServer() {
      server = await startServer({ port, tmuxSocket: tmux.socket, home, log: () => {} })
      serving = true
    },
    async stop() {
      await context.close()
      if (serving) await server.close()
      tmux.kill()
      remove()
    },
  }
}
