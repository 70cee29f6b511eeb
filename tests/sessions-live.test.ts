import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../server/index.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH, signInContext } from './support/chromium.js'
import { PrivateTmux, tempHome } from './support/tmux.js'

// The sessions screen in Chromium follows tmux live: a window made on the
// desktop shows up without a reload or a fetch. Needs the build in dist/web
// (`npx vite build`); the test serves its own copy, so a rebuild meanwhile
// cannot empty the folder under it.

const DIST_WEB = fileURLToPath(new URL('../dist/web/', import.meta.url))
/** The bound for a desktop change to reach the open list. */
const VISIBLE_WITHIN_MS = 1_000

let browser: Browser
let tmux: PrivateTmux
let home: string
let removeHome: () => void
let webRoot: string
let server: RunningServer
let context: BrowserContext | undefined
let page: Page

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
})
afterAll(async () => {
  await browser?.close()
})

beforeEach(async () => {
  tmux = new PrivateTmux()
  tmux.newSession('proj')
  ;({ home, remove: removeHome } = tempHome())
  webRoot = mkdtempSync(join(tmpdir(), 'handoff-web-'))
  cpSync(DIST_WEB, webRoot, { recursive: true })
  server = await startServer({ port: 0, tmuxSocket: tmux.socket, home, webRoot, log: () => {} })
  context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
  await signInContext(context, home, server.url)
  page = await context.newPage()
})
afterEach(async () => {
  await context?.close()
  context = undefined
  await server?.close()
  tmux.kill()
  removeHome()
  rmSync(webRoot, { recursive: true, force: true })
})

describe('the live sessions screen', () => {
  it('shows a window made on the desktop within a second, without a reload or a fetch', async () => {
    const stream = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/events')
    await page.goto(server.url)
    await page.getByTestId('session-proj').click()
    await page.getByTestId('window-0').waitFor()
    expect((await stream).status()).toBe(200)
    // A reload would lose this; and nothing may ask /api/sessions again: the stream brings the change.
    await page.evaluate(() => document.body.setAttribute('data-before-change', ''))
    const fetched: string[] = []
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/sessions')) fetched.push(r.url())
    })

    tmux.run('new-window', '-d', '-t', 'proj:1', '-n', 'logs')
    const started = performance.now()
    await page.getByTestId('window-1').waitFor({ timeout: VISIBLE_WITHIN_MS })
    const took = performance.now() - started
    process.stderr.write(`desktop new-window → visible on the phone in ${took.toFixed(0)} ms\n`)
    expect(took).toBeLessThan(VISIBLE_WITHIN_MS)
    await expect.poll(() => page.getByTestId('window-1').textContent()).toContain('logs')
    expect(await page.getByTestId('session-proj').textContent()).toContain('2 windows')

    tmux.run('kill-window', '-t', 'proj:1')
    await page.getByTestId('window-1').waitFor({ state: 'detached', timeout: VISIBLE_WITHIN_MS })
    expect(await page.evaluate(() => document.body.hasAttribute('data-before-change'))).toBe(true)
    expect(fetched).toEqual([])
  })

  it('follows windows made and renamed on the desktop in the terminal\'s window strip', async () => {
    await page.goto(`${server.url}/t/proj/0`)
    await page.getByTestId('strip-window-0').waitFor()
    tmux.run('new-window', '-d', '-t', 'proj:1', '-n', 'build')
    await page.getByTestId('strip-window-1').waitFor({ timeout: VISIBLE_WITHIN_MS })
    await expect.poll(() => page.getByTestId('strip-window-1').textContent()).toBe('1:build')
    tmux.run('rename-window', '-t', 'proj:1', 'tests')
    await expect.poll(() => page.getByTestId('strip-window-1').textContent(), { timeout: VISIBLE_WITHIN_MS }).toBe('1:tests')
  })
})
