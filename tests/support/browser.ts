import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeEach, expect } from 'vitest'
import { startServer, type RunningServer, type ServerOptions } from '../../server/index.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH, signInContext } from './chromium.js'
import type { addSignedInDevice, TestDevice } from './device.js'
import { VirtualAuthenticator } from './passkey.js'
import { collectProblems, type PageProblems } from './problems.js'
import { Touch } from './touch.js'
import { PrivateTmux, tempHome } from './tmux.js'

/** A phone as the browser tests drive one: mobile viewport, touch, 3× pixels. */
export const PHONE = { width: 390, height: 844 } as const

const POLL = { timeout: 15_000, interval: 100 }
const DIST_WEB = fileURLToPath(new URL('../../dist/web/', import.meta.url))

/** A grant as `handoff pair` sets it (default: every session, read-write, a day). */
export type Grant = NonNullable<Parameters<typeof addSignedInDevice>[2]>

export interface PhoneOptions {
  /** The screen in CSS px (default PHONE, 390×844). */
  viewport?: { width: number; height: number }
  /** A phone (default): mobile, touch, 3× pixels. false: a desktop browser window of `viewport`'s size, with a mouse. */
  mobile?: boolean
  /** Signed in (default) as a new paired device with `grant`; false: not signed in, as before pairing or after signing out. */
  signedIn?: boolean
  grant?: Grant
  /** A platform passkey authenticator (Chromium's virtual one) for pairing and sign-in. */
  passkeys?: boolean
}

export interface HarnessOptions extends PhoneOptions {
  /** tmux sessions made before the server starts, each a bare `sh` (default: `proj`). */
  sessions?: string[]
  /** Serve a copy of dist/web (`webRoot`) that the test may change and a rebuild meanwhile cannot empty. */
  copyWeb?: boolean
  /** A persistent browser profile (its own Chromium) instead of an off-the-record context: the Push API needs one. */
  persistent?: boolean
}

/** One browser context with its page, against the harness's server. */
export interface Phone {
  context: BrowserContext
  page: Page
  /** Real touch input, as a phone's screen sends it (through DevTools). */
  touch: Touch
  /** The device this phone is signed in as; throws for a phone that is not signed in. */
  readonly device: TestDevice
  /** Opens `path` and waits until its terminal is live (for `/t/…`) or the page loaded. */
  open(path: string): Promise<void>
  /** Opens `path` and waits until the service worker controls the page (so it works offline). */
  openControlled(path: string): Promise<void>
  /** Signs this phone in as another new device (the old cookie goes). */
  signInAs(grant: Grant): Promise<TestDevice>
  /** Stores this phone's terminal preferences (settings.ts) before the app reads them. */
  setTerminalPrefs(prefs: Record<string, unknown>): Promise<void>
}

export interface BrowserHarness extends Phone, PageProblems {
  tmux: PrivateTmux
  server: RunningServer
  home: string
  /** The web app the server serves: a copy with `copyWeb`, else dist/web. */
  webRoot: string
  /** Another browser context on the same server (a second phone), closed with the harness; its problems are collected here too. */
  newPhone(options?: PhoneOptions): Promise<Phone>
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
 * on loopback over it, and a signed-in phone's page, with page errors, CSP
 * refusals and console errors of every page collected from the start.
 */
export async function startBrowserHarness(options: HarnessOptions = {}): Promise<BrowserHarness> {
  const tmux = new PrivateTmux()
  const sessions = options.sessions ?? ['proj']
  if (sessions.length === 0) tmux.start()
  for (const name of sessions) tmux.newSession(name, '/bin/sh')
  const { home, remove } = tempHome()
  const webRoot = options.copyWeb ? mkdtempSync(join(tmpdir(), 'handoff-web-')) : DIST_WEB
  if (options.copyWeb) cpSync(DIST_WEB, webRoot, { recursive: true })
  const serverOptions: ServerOptions = { port: 0, tmuxSocket: tmux.socket, home, webRoot, log: () => {} }
  let server = await startServer(serverOptions)
  let serving = true
  const found: PageProblems = { problems: [], consoleErrors: [] }
  const closers: (() => Promise<void>)[] = []

  const newPhone = async (phoneOptions: PhoneOptions, persistent = false): Promise<Phone> => {
    const { context, close } = await openContext(phoneOptions, persistent)
    closers.push(close)
    collectProblems(context, found)
    return phoneOf(context, { ...phoneOptions, home, url: () => server.url })
  }

  const phone = await newPhone(options, options.persistent)
  return {
    ...found,
    tmux,
    get server() {
      return server
    },
    home,
    webRoot,
    context: phone.context,
    page: phone.page,
    touch: phone.touch,
    get device() {
      return phone.device
    },
    open: phone.open,
    openControlled: phone.openControlled,
    signInAs: phone.signInAs,
    setTerminalPrefs: phone.setTerminalPrefs,
    newPhone: (more = {}) => newPhone({ ...options, ...more }),
    async stopServer() {
      serving = false
      await server.close()
    },
    async restartServer() {
      server = await startServer({ ...serverOptions, port: server.port })
      serving = true
    },
    async stop() {
      for (const close of closers) await close()
      if (serving) await server.close()
      tmux.kill()
      remove()
      if (options.copyWeb) rmSync(webRoot, { recursive: true, force: true })
    },
  }
}

export interface UseHarnessOptions extends HarnessOptions {
  /** After each test, once the harness is stopped: expect no page errors or CSP refusals in any of its pages. */
  expectNoProblems?: boolean
}

/**
 * The browser-test preamble: starts a harness with `options` before each test
 * of the file (or of the `describe` it is called in), stops it after the test,
 * and closes the file's Chromium after all. Returns the running test's harness
 * as a live view (`b.page` is always this test's page); a `beforeEach` the
 * file registers after this call runs once the harness is up.
 */
export function useBrowserHarness(options: UseHarnessOptions = {}): BrowserHarness {
  const { expectNoProblems, ...harnessOptions } = options
  const start = useHarnessPerTest({ expectNoProblems })
  let current: BrowserHarness | undefined
  beforeEach(async () => {
    current = await start(harnessOptions)
  })
  return new Proxy({} as BrowserHarness, {
    get(_, key) {
      if (!current) throw new Error(`the browser harness starts before each test: ${String(key)} was read before the first`)
      return Reflect.get(current, key)
    },
  })
}

/**
 * The preamble for a file whose tests each start their own harness (with
 * options of their own): returns `start`, whose harness is stopped after the
 * test; the file's Chromium is closed after all.
 */
export function useHarnessPerTest({ expectNoProblems = false }: Pick<UseHarnessOptions, 'expectNoProblems'> = {}): (options?: HarnessOptions) => Promise<BrowserHarness> {
  let running: BrowserHarness | undefined
  afterEach(async () => {
    const harness = running
    running = undefined
    if (!harness) return
    await harness.stop()
    if (expectNoProblems) expect(harness.problems).toEqual([])
  })
  afterAll(() => closeBrowserForTests())
  return async (options = {}) => {
    if (running) throw new Error('this test already started a browser harness')
    running = await startBrowserHarness(options)
    return running
  }
}

/** A phone that is not the harness's: its own problems, closed by `close`. */
export interface OwnPhone extends Phone, PageProblems {
  close(): Promise<void>
}

/**
 * A phone against a server the test runs itself, at `url()` over
 * HANDOFF_HOME `home` (signing in and passkeys use them): for a test of one
 * part of the server. WebAuthn takes a name, not an IP address, as the RP ID:
 * with passkeys, `url()` is an `http://localhost:…` origin. Chromium is the
 * file's (closeBrowserForTests).
 */
export async function openPhone(options: PhoneOptions & { home: string; url: () => string }): Promise<OwnPhone> {
  const { context, close } = await openContext(options, false)
  const found: PageProblems = { problems: [], consoleErrors: [] }
  collectProblems(context, found)
  // Assigned, not spread: `device` is a getter that throws for a phone not signed in.
  return Object.assign(await phoneOf(context, options), found, { close })
}

/** A browser context, of the file's Chromium, or with `persistent` its own with a profile that `close` removes. */
async function openContext(options: PhoneOptions, persistent: boolean): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const { viewport = PHONE, mobile = true } = options
  const screen: BrowserContextOptions = mobile ? { viewport, isMobile: true, hasTouch: true, deviceScaleFactor: 3 } : { viewport }
  if (!persistent) {
    const context = await (await browserForTests()).newContext(screen)
    return { context, close: () => context.close() }
  }
  const profile = mkdtempSync(join(tmpdir(), 'handoff-profile-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, ...screen })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Signs `context` in (unless `signedIn` is false), adds a passkey authenticator (with `passkeys`), and wraps them as a Phone. */
async function phoneOf(context: BrowserContext, options: PhoneOptions & { home: string; url: () => string }): Promise<Phone> {
  const { home, url } = options
  const page = context.pages()[0] ?? (await context.newPage())
  let device = options.signedIn === false ? undefined : await signInContext(context, home, url(), options.grant ?? {})
  if (options.passkeys) await VirtualAuthenticator.attach(context, page)
  const touch = new Touch(await context.newCDPSession(page))
  return {
    context,
    page,
    touch,
    get device() {
      if (!device) throw new Error('this phone is not signed in (signedIn: false); signInAs() signs it in')
      return device
    },
    async open(path) {
      await page.goto(`${url()}${path}`)
      // Attached, not visible: in landscape the title bar with the status is collapsed.
      if (path.startsWith('/t/')) await page.getByTestId('status').and(page.locator('[data-state="live"]')).waitFor({ state: 'attached', timeout: 15_000 })
    },
    async openControlled(path) {
      await page.goto(`${url()}${path}`)
      // `ready` resolves once a worker is active, but a page loaded before that is not controlled until reloaded (the worker does not claim pages).
      await expect.poll(() => page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state), POLL).toBe('activated')
      await page.reload()
      await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), POLL).toBe(true)
    },
    async signInAs(grant) {
      await context.clearCookies()
      device = await signInContext(context, home, url(), grant)
      return device
    },
    async setTerminalPrefs(prefs) {
      if (!device) throw new Error('this phone is not signed in (signedIn: false)')
      const { id } = device.record
      await page.addInitScript(([key, value]) => localStorage.setItem(key, value), [`handoff.terminal.${id}`, JSON.stringify(prefs)] as const)
    },
  }
}
