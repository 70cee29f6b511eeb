import { request } from 'node:http'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import type { Route, WebSocket } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'

// The way to a live terminal from a deep link, in round trips: the terminal's
// code comes with the page, its socket opens without waiting for /api/me,
// and a phone reopening a tab sees its saved screen and the live one before
// /api/me answers. Behaviour only; the times are in the bench (bench/web.ts).

const POLL = { timeout: 15_000, interval: 50 }
const TEST_TIMEOUT_MS = 60_000

const b = useBrowserHarness()

/** Holds every /api/me request until `release()`: whatever the page shows meanwhile did not wait for it. */
async function holdMe(): Promise<{ held: () => number; release: () => Promise<void> }> {
  const waiting: Route[] = []
  let released = false
  await b.context.route('**/api/me', (route) => (released ? route.continue() : void waiting.push(route)))
  return {
    held: () => waiting.length,
    release: async () => {
      released = true
      await Promise.all(waiting.splice(0).map((route) => route.continue()))
    },
  }
}

/** The terminal sockets the page opens from now on. */
function terminalSockets(): WebSocket[] {
  const sockets: WebSocket[] = []
  b.page.on('websocket', (ws) => {
    if (new URL(ws.url()).pathname.startsWith('/api/term/')) sockets.push(ws)
  })
  return sockets
}

/** Puts `text` alone on the pane's screen (the typed command never contains it) and waits until tmux shows it. */
async function showOnPane(word: string, n: number): Promise<string> {
  b.tmux.run('send-keys', '-t', 'proj:0', `printf '\\033[H\\033[2J${word}-%s\\n' ${n}`, 'Enter')
  const text = `${word}-${n}`
  await expect.poll(() => b.tmux.capture('proj:0'), POLL).toContain(text)
  return text
}

const live = () => b.page.getByTestId('status').and(b.page.locator('[data-state="live"]'))
const terminalText = () => b.page.locator('[data-testid=terminal] .xterm-rows').textContent()

describe('a deep link', () => {
  it('comes with the terminal preloaded; the sessions list does not', async () => {
    const html = async (path: string) => (await b.context.request.get(`${b.server.url}${path}`)).text()
    const preloads = (page: string) => [...page.matchAll(/<link rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1])
    const deepLink = await html('/t/proj/0')
    expect(preloads(deepLink)).toEqual([expect.stringMatching(/^\/assets\/terminal-chunk-[\w-]+\.js$/)])
    expect(deepLink).toMatch(/<link rel="preload" as="style" crossorigin href="\/assets\/terminal-chunk-[\w-]+\.css">/)
    expect(preloads(await html('/'))).toEqual([])
  })

  it('sends the terminal chunk compressed to a browser that takes it, and as it is to one that does not', async () => {
    const chunk = /href="(\/assets\/terminal-chunk-[\w-]+\.js)"/.exec(await (await fetch(`${b.server.url}/t/proj/0`)).text())![1]!
    const get = (encoding: string) =>
      new Promise<{ encoding: string | undefined; vary: string | undefined; body: Buffer }>((resolve, reject) => {
        request(`${b.server.url}${chunk}`, { headers: { 'accept-encoding': encoding } }, (res) => {
          const parts: Buffer[] = []
          res.on('data', (part: Buffer) => parts.push(part))
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], vary: res.headers.vary, body: Buffer.concat(parts) }))
        })
          .on('error', reject)
          .end()
      })
    const plain = await get('identity')
    expect(plain.encoding).toBeUndefined()
    const br = await get('gzip, deflate, br')
    expect(br.encoding).toBe('br')
    expect(br.vary).toContain('Accept-Encoding')
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true)
    expect(br.body.length).toBeLessThan(plain.body.length / 3)
    const gzip = await get('gzip')
    expect(gzip.encoding).toBe('gzip')
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true)
  })

  it(
    'opens its terminal socket without waiting for /api/me, and the terminal takes that socket',
    async () => {
      const me = await holdMe()
      const sockets = terminalSockets()
      await b.page.goto(`${b.server.url}/t/proj/0`)
      // The socket is asked for while /api/me is still unanswered: no API round trip before it.
      await expect.poll(() => sockets.length, POLL).toBe(1)
      expect(me.held()).toBe(1)
      await me.release()
      await live().waitFor({ timeout: POLL.timeout })
      // The terminal adopted the early socket rather than opening another.
      expect(sockets.length).toBe(1)
      expect(sockets[0]!.isClosed()).toBe(false)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'reopened on a phone it remembers: the saved screen, then the live one, before /api/me answers; the answer keeps the screen',
    async () => {
      const before = await showOnPane('before', 1)
      await b.open('/t/proj/0')
      await expect.poll(terminalText, POLL).toContain(before)
      await b.page.goto('about:blank') // pagehide: the terminal saves its screen
      const now = await showOnPane('now', 2)

      const me = await holdMe()
      const sockets = terminalSockets()
      // The saved screen shows only until xterm.js has loaded: the page notes it when it appears.
      await b.context.addInitScript(() => {
        new MutationObserver(() => {
          const preview = document.querySelector('[data-testid=saved-preview]')
          if (preview) document.documentElement.dataset.savedPreview ??= preview.textContent ?? ''
        }).observe(document, { subtree: true, childList: true })
      })
      await b.page.goto(`${b.server.url}/t/proj/0`)
      await live().waitFor({ timeout: POLL.timeout })
      await expect.poll(terminalText, POLL).toContain(now)
      expect(await b.page.locator('html').getAttribute('data-saved-preview')).toContain(before)
      expect(me.held()).toBe(1)

      // The answer describes the phone as remembered: the same terminal stays, on the same socket.
      await b.page.getByTestId('terminal').evaluate((el) => el.setAttribute('data-mounted-before-me', ''))
      await me.release()
      await expect.poll(() => b.page.evaluate(() => performance.getEntriesByName(`${location.origin}/api/me`).length), POLL).toBe(1)
      expect(await b.page.locator('[data-mounted-before-me]').count()).toBe(1)
      expect(sockets.length).toBe(1)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'reopened after the sign-in ended: the sign-in screen, and no terminal socket left open',
    async () => {
      await b.open('/t/proj/0')
      await b.page.goto('about:blank')
      await b.context.clearCookies()
      const sockets = terminalSockets()
      await b.page.goto(`${b.server.url}/t/proj/0`)
      await b.page.getByTestId('signin-button').waitFor({ timeout: POLL.timeout })
      await expect.poll(() => sockets.every((ws) => ws.isClosed()), POLL).toBe(true)
      expect(await b.page.evaluate(() => localStorage.getItem('handoff.device'))).toBeNull()
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'signing out forgets the phone and its saved screens',
    async () => {
      await b.open('/t/proj/0')
      await b.page.getByTestId('back').click()
      await b.page.getByTestId('signout').click()
      await b.page.getByTestId('signin-button').waitFor({ timeout: POLL.timeout })
      const kept = await b.page.evaluate(() => Object.keys(localStorage).filter((k) => k === 'handoff.device' || k.startsWith('handoff.screen.')))
      expect(kept).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})
