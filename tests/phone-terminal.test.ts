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

// The terminal screen on an emulated phone (390×844, touch), in real Chromium
// against the real server and a private tmux server. Needs the built web app
// in dist/web (`npx vite build`; `npm test` builds first).

const TEST_TIMEOUT_MS = 40_000
const POLL = { timeout: 15_000, interval: 100 }
const run = promisify(execFile)
/** A bare sh starts at once and takes keys before its first prompt (see browser.test.ts). */
const PANE_SHELL = '/bin/sh'

async function tmux(sock: string, args: readonly string[]): Promise<string> {
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
let pageProblems: string[]

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    // No WebGL: xterm.js uses its DOM renderer, so `.xterm-rows` is readable.
    args: CHROMIUM_ARGS,
  })
})

afterAll(async () => {
  await browser?.close()
})

beforeEach(async () => {
  sock = `handoff-test-${process.pid}-${randomUUID().slice(0, 8)}`
  await tmux(sock, ['-f', '/dev/null', 'new-session', '-d', '-s', 'proj', '-x', '120', '-y', '30', PANE_SHELL])
  home = await mkdtemp(join(tmpdir(), 'handoff-phone-'))
  server = await startServer({ port: 0, tmuxSocket: sock, home, log: () => {} })
})

afterEach(async () => {
  await context?.close()
  context = undefined
  await server?.close()
  server = undefined
  await tmux(sock, ['kill-server']).catch(() => {})
  await rm(home, { recursive: true, force: true })
})

/** A signed-in phone: mobile viewport, touch, 3× pixels. */
async function openPhone(grant: { readOnly?: boolean } = {}): Promise<void> {
  context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 })
  await signInContext(context, home, server!.url, grant)
  page = await context.newPage()
  pageProblems = []
  page.on('pageerror', (error) => pageProblems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) pageProblems.push(`csp: ${message.text()}`)
  })
}

async function openTab(window = 0): Promise<void> {
  await page.goto(`${server!.url}/t/proj/${window}`)
  await expect.poll(connectionState, POLL).toBe('live')
}

const screenText = () => page.locator('.xterm-rows').textContent()
const screenRows = () => page.$$eval('.xterm-rows > div', (rows) => rows.map((row) => row.textContent ?? ''))
const paneText = () => tmux(sock, ['capture-pane', '-p', '-t', 'proj:0'])
const paneCommand = () => tmux(sock, ['display-message', '-p', '-t', 'proj:0', '#{pane_current_command}']).then((s) => s.trim())
const connectionState = () => page.getByTestId('status').getAttribute('data-state')
/** Types into the pane from tmux's side, as the desktop would. */
const desktopTypes = (line: string) => tmux(sock, ['send-keys', '-t', 'proj:0', line, 'Enter'])

/** Focuses xterm's input, as a tap on the terminal does (the soft keyboard's target). */
const focusTerminal = () => page.locator('.xterm-helper-textarea').focus()

/** Holds a toolbar key until its long-press fires, then lets go. */
async function longPress(testId: string): Promise<void> {
  const box = (await page.getByTestId(testId).boundingBox())!
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.down()
  await expect.poll(() => page.getByTestId(testId).getAttribute('data-long'), POLL).toBe('fired')
  await page.mouse.up()
}

describe('phone terminal', () => {
  it(
    'sends ^C from the toolbar: CTRL then the soft keyboard\'s c, and a long-press on ESC',
    async () => {
      await openPhone()
      await openTab()
      const toolbar = page.getByTestId('toolbar')
      for (const key of await toolbar.locator('button').all()) {
        const box = (await key.boundingBox())!
        expect(box.height).toBeGreaterThanOrEqual(44)
      }

      await desktopTypes('sleep 100')
      await expect.poll(paneCommand, POLL).toBe('sleep')
      await page.getByTestId('key-ctrl').tap()
      await expect.poll(() => page.getByTestId('key-ctrl').getAttribute('aria-pressed'), POLL).toBe('true')
      await focusTerminal()
      await page.keyboard.type('c')
      await expect.poll(paneCommand, POLL).toBe('sh')
      // One-shot: CTRL let go after the key it modified.
      expect(await page.getByTestId('key-ctrl').getAttribute('aria-pressed')).toBe('false')

      await desktopTypes('sleep 100')
      await expect.poll(paneCommand, POLL).toBe('sleep')
      await longPress('key-esc')
      await expect.poll(paneCommand, POLL).toBe('sh')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'sends a line feed for Shift+Enter, from a hardware keyboard and from the toolbar',
    async () => {
      await openPhone()
      await openTab()
      // Raw mode, so the bytes reach od as typed (no CR-to-NL mapping).
      await desktopTypes("stty raw -echo; head -c 4 | od -c; stty sane")
      await expect.poll(paneCommand, POLL).not.toBe('sh')
      await focusTerminal()
      await page.keyboard.type('x')
      await page.keyboard.press('Shift+Enter')
      await page.getByTestId('key-shift').tap()
      await page.getByTestId('key-enter').tap()
      await page.getByTestId('key-enter').tap()
      await expect.poll(paneText, POLL).toMatch(/x\s+\\n\s+\\n\s+\\r/)
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'keeps the cursor row visible when the keyboard shrinks the viewport',
    async () => {
      await desktopTypes('seq 1 200')
      await expect.poll(paneText, POLL).toContain('200')
      await openPhone()
      await openTab()
      await expect.poll(screenText, POLL).toContain('200')

      // Typing is what makes a fitting phone take the window's size (a phone that only watches never does).
      await focusTerminal()
      await page.keyboard.press('Space')
      await page.keyboard.press('Backspace')
      // What the soft keyboard does to the visual viewport.
      await page.setViewportSize({ width: 390, height: 420 })
      const cursorInView = async () => {
        const cursor = await page.locator('.xterm-rows .xterm-cursor').boundingBox()
        const toolbar = await page.getByTestId('toolbar').boundingBox()
        const host = await page.getByTestId('terminal').boundingBox()
        if (!cursor || !toolbar || !host) return false
        return cursor.y >= host.y && cursor.y + cursor.height <= toolbar.y + 1 && toolbar.y + toolbar.height <= 420 + 1
      }
      await expect.poll(cursorInView, POLL).toBe(true)
      // tmux followed the phone's new size ("fit this phone"), and the prompt is on the last row shown.
      await expect.poll(async () => Number((await tmux(sock, ['display-message', '-p', '-t', 'proj:0', '#{window_height}'])).trim()), POLL).toBeLessThan(25)
      await expect.poll(async () => (await screenRows()).filter((row) => row.trim()).at(-1) ?? '', POLL).toMatch(/^[$#]/)
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'scrolls back by swipe through lines printed before attaching, each once',
    async () => {
      await desktopTypes('for i in $(seq 1 150); do echo hist-$i; done')
      await expect.poll(paneText, POLL).toContain('hist-150')
      await openPhone()
      await openTab()
      await expect.poll(screenText, POLL).toContain('hist-150')

      // A real touch swipe (finger moving down scrolls back), as a phone sends it.
      const box = (await page.getByTestId('terminal').boundingBox())!
      const cdp = await context!.newCDPSession(page)
      const swipe = (yDistance: number) =>
        cdp.send('Input.synthesizeScrollGesture', {
          x: Math.round(box.x + box.width / 2),
          y: Math.round(box.y + box.height / 2),
          yDistance,
          gestureSourceType: 'touch',
          speed: 4000,
        })
      await expect
        .poll(async () => {
          await swipe(600)
          return (await screenRows()).some((row) => row.trim() === 'hist-1')
        }, POLL)
        .toBe(true)
      // Swipe back down through everything: every line shows, in order.
      const seen: number[] = []
      // Short swipes: the window is shown at its desktop width, scaled down, so a row is small.
      for (let pass = 0; pass < 120 && !seen.includes(150); pass++) {
        const numbers = (await screenRows()).map((row) => /^hist-(\d+)\s*$/.exec(row)?.[1]).filter((n) => n !== undefined).map(Number)
        // Each screenful counts up by one: no line twice, none missing, where history meets screen too.
        expect(numbers.slice(1).every((n, i) => n === numbers[i]! + 1), numbers.join(' ')).toBe(true)
        for (const n of numbers) if (!seen.includes(n)) seen.push(n)
        await swipe(-60)
      }
      expect(seen).toEqual(Array.from({ length: 150 }, (_, i) => i + 1))
      // No line appears twice on screen or in the scrollback's visible part.
      const rows = (await screenRows()).filter((row) => /^hist-\d+\s*$/.test(row))
      expect(new Set(rows).size).toBe(rows.length)
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'asks before a paste with line breaks reaches the pane',
    async () => {
      await openPhone()
      await openTab()
      await focusTerminal()
      await page.locator('.xterm-helper-textarea').evaluate((textarea) => {
        const data = new DataTransfer()
        data.setData('text/plain', 'echo pasted-$((40+2))\necho second-$((6*7))\n')
        textarea.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
      })
      await expect.poll(() => page.getByTestId('paste-dialog').isVisible(), POLL).toBe(true)
      expect(await page.getByTestId('paste-preview').textContent()).toContain('echo second-$((6*7))')
      expect(await paneText()).not.toContain('pasted-')

      await page.getByTestId('paste-confirm').tap()
      await expect.poll(paneText, POLL).toContain('second-42')
      expect(await paneText()).toContain('pasted-42')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'shows the history in reader mode with its colours, as text, and finds a match',
    async () => {
      await desktopTypes("printf '\\033[31mred-word\\033[0m <b>not-bold</b>\\n'")
      await desktopTypes('for i in $(seq 1 80); do echo filler-$i; done; echo needle-$((6*7))')
      await expect.poll(paneText, POLL).toContain('needle-42')
      await openPhone()
      await openTab()

      await page.getByTestId('reader-open').tap()
      const reader = page.getByTestId('reader-text')
      await expect.poll(() => reader.textContent(), POLL).toContain('red-word')
      const red = reader.locator('span', { hasText: /^red-word$/ })
      expect(await red.evaluate((span) => getComputedStyle(span).color)).toBe('rgb(255, 123, 114)')
      // The output's HTML is text: no element was made from it.
      expect(await reader.textContent()).toContain('<b>not-bold</b>')
      expect(await reader.locator('b').count()).toBe(0)

      await page.getByTestId('reader-query').fill('needle-42')
      await expect.poll(() => page.getByTestId('reader-count').getAttribute('data-matches'), POLL).not.toBe('0')
      // The current match's line is marked (matches are painted with CSS highlights, leaving the caret in the field).
      expect(await page.locator('[data-testid=reader-text] .reader-line[data-current]').textContent()).toContain('needle-42')
      await page.getByTestId('reader-query').fill('filler-7')
      // filler-7 and filler-70…79: next and previous step through them.
      await expect.poll(() => page.getByTestId('reader-count').textContent(), POLL).toBe('11/11')
      await page.getByTestId('reader-next').tap()
      expect(await page.getByTestId('reader-count').textContent()).toBe('1/11')

      await page.getByTestId('reader-close').tap()
      expect(await page.getByTestId('reader').count()).toBe(0)
      expect(await connectionState()).toBe('live')
      // The tmux window kept the desktop's size throughout.
      expect((await tmux(sock, ['display-message', '-p', '-t', 'proj:0', '#{window_width}'])).trim()).not.toBe('')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'disables the toolbar of a read-only phone and watches at desktop size',
    async () => {
      await openPhone({ readOnly: true })
      await openTab()
      const keys = await page.getByTestId('toolbar').locator('button').all()
      expect(keys.length).toBe(14)
      for (const key of keys) expect(await key.isDisabled()).toBe(true)
      expect(await page.getByTestId('toolbar').getAttribute('aria-disabled')).toBe('true')

      await focusTerminal()
      await page.keyboard.type('echo typed-$((6*7))')
      await page.keyboard.press('Enter')
      // The desktop's own keys still arrive; the phone's did not (they would come first).
      await desktopTypes('echo desktop-$((6*7))')
      await expect.poll(paneText, POLL).toContain('desktop-42')
      expect(await paneText()).not.toContain('typed-')
      expect((await tmux(sock, ['display-message', '-p', '-t', 'proj:0', '#{window_width}'])).trim()).toBe('120')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'keeps the last screen for an instant resume of the tab',
    async () => {
      await openPhone()
      await openTab()
      await desktopTypes('echo resume-$((6*7))')
      await expect.poll(screenText, POLL).toContain('resume-42')
      await page.getByTestId('back').tap()
      await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
      const saved = await page.evaluate(() => localStorage.getItem('handoff.screen.proj/0'))
      expect(saved).toContain('resume-42')
      expect(pageProblems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})
