import { describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'

// Real Chromium (a desktop window at a phone's size) against the real server
// and a private tmux server. Needs the built web app in dist/web
// (`npx vite build`; `npm test` builds first).

const TEST_TIMEOUT_MS = 30_000
const POLL = { timeout: 15_000, interval: 100 }
/** sh's prompt (`$ `, or `# ` for root) at the top of an empty screen. */
const PROMPT_FIRST = /^[$#]/

const b = useBrowserHarness({ mobile: false })

/** The text xterm.js's DOM renderer shows. */
const screenText = () => b.page.locator('.xterm-rows').textContent()
const paneText = () => b.tmux.capture('proj:0')
const connectionState = () => b.page.getByTestId('status').getAttribute('data-state')

describe('web app', () => {
  it(
    'opens a window from the sessions list and runs a command typed into it',
    async () => {
      await b.open('/')
      await b.page.getByTestId('session-proj').click()
      await b.page.getByTestId('window-0').click()

      await expect.poll(() => new URL(b.page.url()).pathname, POLL).toBe('/t/proj/0')
      await expect.poll(connectionState, POLL).toBe('live')
      await expect.poll(screenText, POLL).toMatch(PROMPT_FIRST)
      await b.page.getByTestId('terminal').click()
      await b.page.keyboard.type('echo browser-$((6*7))')
      await b.page.keyboard.press('Enter')

      // The keys reached the pane, and the pane's output reached the page.
      await expect.poll(paneText, POLL).toContain('browser-42')
      await expect.poll(screenText, POLL).toContain('browser-42')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'opens a deep link straight into the terminal',
    async () => {
      await expect.poll(paneText, POLL).toMatch(PROMPT_FIRST)
      b.tmux.run('send-keys', '-t', 'proj:0', 'echo deep-$((6*7))', 'Enter')
      await expect.poll(paneText, POLL).toContain('deep-42')

      await b.page.goto(`${b.server.url}/t/proj/0`)
      await expect.poll(connectionState, POLL).toBe('live')
      // tmux redraws the whole screen for a new client, earlier output included.
      await expect.poll(screenText, POLL).toContain('deep-42')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'goes back to the sessions list and forward again with the browser history',
    async () => {
      await b.page.goto(`${b.server.url}/t/proj/0`)
      await expect.poll(connectionState, POLL).toBe('live')

      await b.page.getByTestId('back').click()
      await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)
      expect(new URL(b.page.url()).pathname).toBe('/')

      await b.page.goBack()
      await expect.poll(connectionState, POLL).toBe('live')
      expect(new URL(b.page.url()).pathname).toBe('/t/proj/0')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'shows the server\'s message when a new session name is taken',
    async () => {
      await b.open('/')
      await b.page.getByTestId('new-session-name').fill('proj')
      await b.page.getByTestId('new-session-submit').click()
      await expect.poll(() => b.page.getByTestId('new-session-error').textContent(), POLL).not.toBe('')

      await b.page.getByTestId('new-session-name').fill('second')
      await b.page.getByTestId('new-session-submit').click()
      await expect.poll(() => b.page.getByTestId('session-second').count(), POLL).toBe(1)
      await expect.poll(() => b.tmux.run('list-sessions', '-F', '#{session_name}'), POLL).toContain('second')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'reconnects after the server restarts',
    async () => {
      await b.page.goto(`${b.server.url}/t/proj/0`)
      await expect.poll(connectionState, POLL).toBe('live')
      await expect.poll(screenText, POLL).toMatch(PROMPT_FIRST)

      await b.stopServer()
      await expect.poll(connectionState, POLL).not.toBe('live')
      await b.restartServer()

      await expect.poll(connectionState, POLL).toBe('live')
      await b.page.getByTestId('terminal').click()
      await b.page.keyboard.type('echo again-$((6*7))')
      await b.page.keyboard.press('Enter')
      await expect.poll(screenText, POLL).toContain('again-42')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'returns to the list with a notice when the window is killed',
    async () => {
      b.tmux.run('new-window', '-d', '-t', 'proj:1', '/bin/sh')
      await b.page.goto(`${b.server.url}/t/proj/1`)
      await expect.poll(connectionState, POLL).toBe('live')

      b.tmux.run('kill-window', '-t', 'proj:1')
      await expect.poll(() => b.page.getByTestId('notice').count(), POLL).toBe(1)
      expect(new URL(b.page.url()).pathname).toBe('/')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'installs a service worker that precaches the app and nothing under /api/',
    async () => {
      // Controlled by the worker, the page makes its API calls through it.
      await b.openControlled('/')
      await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)

      const cachedPaths = await b.page.evaluate(async () => {
        const paths: string[] = []
        for (const name of await caches.keys()) {
          const cache = await caches.open(name)
          for (const request of await cache.keys()) paths.push(new URL(request.url).pathname)
        }
        return paths
      })
      expect(cachedPaths).toContain('/index.html')
      expect(cachedPaths.filter((path) => path.startsWith('/api/'))).toEqual([])
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})
