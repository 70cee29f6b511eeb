import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startServer } from '../server/index.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH, signInContext } from './support/chromium.js'

// Real Chromium against the real server and a private tmux server. Needs the
// built web app in dist/web (`npx vite build`; `npm test` builds first).

const TEST_TIMEOUT_MS = 30_000
const POLL = { timeout: 15_000, interval: 100 }
const run = promisify(execFile)
/**
 * What the test panes run. The user's login shell may run slow profile
 * scripts and drop keys typed before its first prompt; a bare sh starts at once.
 */
const PANE_SHELL = '/bin/sh'
/** sh's prompt (`$ `, or `# ` for root) at the top of an empty screen. */
const PROMPT_FIRST = /^[$#]/

/** Runs tmux on the test's private server, never the user's default one. */
async function tmux(sock: string, args: readonly string[]): Promise<string> {
  // Without TMUX the test behaves the same whether or not it runs inside tmux.
  const { TMUX: _insideTmux, ...env } = process.env
  const { stdout } = await run('tmux', ['-L', sock, ...args], { timeout: 5_000, env })
  return stdout
}

let browser: Browser
let context: BrowserContext | undefined
let page: Page
let sock: string
let home: string
let server: Awaited<ReturnType<typeof startServer>> | undefined
/** Uncaught page errors and CSP refusals; every test expects none. */
let pageProblems: string[]

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    // --disable-gpu alone still leaves WebGL on a software rasteriser;
    // --disable-3d-apis removes it, so xterm.js falls back to its DOM renderer
    // and the screen's text can be read from `.xterm-rows`.
    args: CHROMIUM_ARGS,
  })
})

afterAll(async () => {
  await browser?.close()
})

beforeEach(async () => {
  sock = `handoff-test-${process.pid}-${randomUUID().slice(0, 8)}`
  await tmux(sock, ['-f', '/dev/null', 'new-session', '-d', '-s', 'proj', '-x', '120', '-y', '30', PANE_SHELL])
  home = await mkdtemp(join(tmpdir(), 'handoff-browser-'))
  server = await startServer({ port: 0, tmuxSocket: sock, home })
  context = await browser.newContext({ viewport: { width: 390, height: 844 } })
  // Signed in as a paired phone would be (the passkey ceremony itself: pairing-browser.test.ts).
  await signInContext(context, home, server.url)
  page = await context.newPage()
  pageProblems = []
  page.on('pageerror', (error) => pageProblems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) pageProblems.push(`csp: ${message.text()}`)
  })
})

afterEach(async () => {
  await context?.close()
  context = undefined
  await server?.close()
  server = undefined
  await tmux(sock, ['kill-server']).catch(() => {})
  await rm(home, { recursive: true, force: true })
})

/** The text xterm.js's DOM renderer shows. */
const screenText = () => page.locator('.xterm-rows').textContent()
const paneText = () => tmux(sock, ['capture-pane', '-p', '-t', 'proj:0'])
const connectionState = () => page.getByTestId('status').getAttribute('data-state')

describe('web app', () => {
  it(
    'opens a window from the sessions list and runs a command typed into it',
    async () => {
      await page.goto(server!.url)
      await page.getByTestId('session-proj').click()
      await page.getByTestId('window-0').click()

      await expect.poll(() => new URL(page.url()).pathname, POLL).toBe('/t/proj/0')
      await expect.poll(connectionState, POLL).toBe('live')
      await expect.poll(screenText, POLL).toMatch(PROMPT_FIRST)
      await page.getByTestId('terminal').click()
      await page.keyboard.type('echo browser-$((6*7))')
      await page.keyboard.press('Enter')

      // The keys reached the pane, and the pane's output reached the page.
      await expect.poll(paneText, POLL).toContain('browser-42')
      await expect.poll(screenText, POLL).toContain('browser-42')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'opens a deep link straight into the terminal',
    async () => {
      await expect.poll(paneText, POLL).toMatch(PROMPT_FIRST)
      await tmux(sock, ['send-keys', '-t', 'proj:0', 'echo deep-$((6*7))', 'Enter'])
      await expect.poll(paneText, POLL).toContain('deep-42')

      await page.goto(`${server!.url}/t/proj/0`)
      await expect.poll(connectionState, POLL).toBe('live')
      // tmux redraws the whole screen for a new client, earlier output included.
      await expect.poll(screenText, POLL).toContain('deep-42')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'goes back to the sessions list and forward again with the browser history',
    async () => {
      await page.goto(`${server!.url}/t/proj/0`)
      await expect.poll(connectionState, POLL).toBe('live')

      await page.getByTestId('back').click()
      await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
      expect(new URL(page.url()).pathname).toBe('/')

      await page.goBack()
      await expect.poll(connectionState, POLL).toBe('live')
      expect(new URL(page.url()).pathname).toBe('/t/proj/0')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'shows the server\'s message when a new session name is taken',
    async () => {
      await page.goto(server!.url)
      await page.getByTestId('new-session-name').fill('proj')
      await page.getByTestId('new-session-submit').click()
      await expect.poll(() => page.getByTestId('new-session-error').textContent(), POLL).not.toBe('')

      await page.getByTestId('new-session-name').fill('second')
      await page.getByTestId('new-session-submit').click()
      await expect.poll(() => page.getByTestId('session-second').count(), POLL).toBe(1)
      await expect.poll(() => tmux(sock, ['list-sessions', '-F', '#{session_name}']), POLL).toContain('second')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'reconnects after the server restarts',
    async () => {
      await page.goto(`${server!.url}/t/proj/0`)
      await expect.poll(connectionState, POLL).toBe('live')
      await expect.poll(screenText, POLL).toMatch(PROMPT_FIRST)

      const { port } = server!
      await server!.close()
      await expect.poll(connectionState, POLL).not.toBe('live')
      server = await startServer({ port, tmuxSocket: sock, home })

      await expect.poll(connectionState, POLL).toBe('live')
      await page.getByTestId('terminal').click()
      await page.keyboard.type('echo again-$((6*7))')
      await page.keyboard.press('Enter')
      await expect.poll(screenText, POLL).toContain('again-42')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'returns to the list with a notice when the window is killed',
    async () => {
      await tmux(sock, ['new-window', '-d', '-t', 'proj:1', PANE_SHELL])
      await page.goto(`${server!.url}/t/proj/1`)
      await expect.poll(connectionState, POLL).toBe('live')

      await tmux(sock, ['kill-window', '-t', 'proj:1'])
      await expect.poll(() => page.getByTestId('notice').count(), POLL).toBe(1)
      expect(new URL(page.url()).pathname).toBe('/')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'installs a service worker that precaches the app and nothing under /api/',
    async () => {
      await page.goto(server!.url)
      await expect
        .poll(() => page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state), POLL)
        .toBe('activated')
      // Reload so the worker controls the page, then make API calls through it.
      await page.reload()
      await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), POLL).toBe(true)
      await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)

      const cachedPaths = await page.evaluate(async () => {
        const paths: string[] = []
        for (const name of await caches.keys()) {
          const cache = await caches.open(name)
          for (const request of await cache.keys()) paths.push(new URL(request.url).pathname)
        }
        return paths
      })
      expect(cachedPaths).toContain('/index.html')
      expect(cachedPaths.filter((path) => path.startsWith('/api/'))).toEqual([])
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})
