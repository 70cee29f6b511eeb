import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
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
  /** Stops the server (a computer going away); `restart` brings it back on the same port. */
  stopServer(): Promise<void>
  restartServer(): Promise<void>
  stop(): Promise<void>
}

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
  return {
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
      if (path.startsWith('/t/')) await page.getByTestId('status').and(page.locator('[data-state="live"]')).waitFor({ timeout: 15_000 })
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
