import { describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'

// The terminal screen on an emulated phone (390×844, touch), in real Chromium
// against the real server and a private tmux server. Needs the built web app
// in dist/web (`npx vite build`; `npm test` builds first).

const TEST_TIMEOUT_MS = 40_000
const POLL = { timeout: 15_000, interval: 100 }

const b = useBrowserHarness()

const openTab = (window = 0) => b.open(`/t/proj/${window}`)
const screenText = () => b.page.locator('.xterm-rows').textContent()
const screenRows = () => b.page.$$eval('.xterm-rows > div', (rows) => rows.map((row) => row.textContent ?? ''))
const paneText = () => b.tmux.capture('proj:0')
const paneCommand = () => b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{pane_current_command}').trim()
const connectionState = () => b.page.getByTestId('status').getAttribute('data-state')
/** Types into the pane from tmux's side, as the desktop would. */
const desktopTypes = (line: string) => b.tmux.run('send-keys', '-t', 'proj:0', line, 'Enter')

/** Focuses xterm's input, as a tap on the terminal does (the soft keyboard's target). */
const focusTerminal = () => b.page.locator('.xterm-helper-textarea').focus()

/** Holds a toolbar key until its long-press fires, then lets go. */
async function longPress(testId: string): Promise<void> {
  const box = (await b.page.getByTestId(testId).boundingBox())!
  await b.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await b.page.mouse.down()
  await expect.poll(() => b.page.getByTestId(testId).getAttribute('data-long'), POLL).toBe('fired')
  await b.page.mouse.up()
}

describe('phone terminal', () => {
  it(
    'sends ^C from the toolbar: CTRL then the soft keyboard\'s c, and a long-press on ESC',
    async () => {
      await openTab()
      const toolbar = b.page.getByTestId('toolbar')
      for (const key of await toolbar.locator('button').all()) {
        const box = (await key.boundingBox())!
        expect(box.height).toBeGreaterThanOrEqual(44)
      }

      desktopTypes('sleep 100')
      await expect.poll(paneCommand, POLL).toBe('sleep')
      await b.page.getByTestId('key-ctrl').tap()
      await expect.poll(() => b.page.getByTestId('key-ctrl').getAttribute('aria-pressed'), POLL).toBe('true')
      await focusTerminal()
      await b.page.keyboard.type('c')
      await expect.poll(paneCommand, POLL).toBe('sh')
      // One-shot: CTRL let go after the key it modified.
      expect(await b.page.getByTestId('key-ctrl').getAttribute('aria-pressed')).toBe('false')

      desktopTypes('sleep 100')
      await expect.poll(paneCommand, POLL).toBe('sleep')
      await longPress('key-esc')
      await expect.poll(paneCommand, POLL).toBe('sh')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'sends a line feed for Shift+Enter, from a hardware keyboard and from the toolbar',
    async () => {
      await openTab()
      // Raw mode, so the bytes reach od as typed (no CR-to-NL mapping).
      desktopTypes("stty raw -echo; head -c 4 | od -c; stty sane")
      await expect.poll(paneCommand, POLL).not.toBe('sh')
      await focusTerminal()
      await b.page.keyboard.type('x')
      await b.page.keyboard.press('Shift+Enter')
      await b.page.getByTestId('key-shift').tap()
      await b.page.getByTestId('key-enter').tap()
      await b.page.getByTestId('key-enter').tap()
      await expect.poll(paneText, POLL).toMatch(/x\s+\\n\s+\\n\s+\\r/)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'keeps the cursor row visible when the keyboard shrinks the viewport',
    async () => {
      desktopTypes('seq 1 200')
      await expect.poll(paneText, POLL).toContain('200')
      await openTab()
      await expect.poll(screenText, POLL).toContain('200')

      // Typing is what makes a fitting phone take the window's size (a phone that only watches never does).
      await focusTerminal()
      await b.page.keyboard.press('Space')
      await b.page.keyboard.press('Backspace')
      // What the soft keyboard does to the visual viewport.
      await b.page.setViewportSize({ width: 390, height: 420 })
      const cursorInView = async () => {
        const cursor = await b.page.locator('.xterm-rows .xterm-cursor').boundingBox()
        const toolbar = await b.page.getByTestId('toolbar').boundingBox()
        const host = await b.page.getByTestId('terminal').boundingBox()
        if (!cursor || !toolbar || !host) return false
        return cursor.y >= host.y && cursor.y + cursor.height <= toolbar.y + 1 && toolbar.y + toolbar.height <= 420 + 1
      }
      await expect.poll(cursorInView, POLL).toBe(true)
      // tmux followed the phone's new size ("fit this phone"), and the prompt is on the last row shown.
      await expect.poll(async () => Number(b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{window_height}').trim()), POLL).toBeLessThan(25)
      await expect.poll(async () => (await screenRows()).filter((row) => row.trim()).at(-1) ?? '', POLL).toMatch(/^[$#]/)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'scrolls back by swipe through lines printed before attaching, each once',
    async () => {
      desktopTypes('for i in $(seq 1 150); do echo hist-$i; done')
      await expect.poll(paneText, POLL).toContain('hist-150')
      await openTab()
      await expect.poll(screenText, POLL).toContain('hist-150')

      // A real touch swipe (finger moving down scrolls back), as a phone sends it; held, so no fling carries it past a line.
      const box = (await b.page.getByTestId('terminal').boundingBox())!
      const swipe = (dy: number) => b.touch.swipe({ x: box.x + box.width / 2, y: box.y + box.height / 2 }, 0, dy, { speed: 4000, hold: true })
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
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'asks before a paste with line breaks reaches the pane',
    async () => {
      await openTab()
      await focusTerminal()
      await b.page.locator('.xterm-helper-textarea').evaluate((textarea) => {
        const data = new DataTransfer()
        data.setData('text/plain', 'echo pasted-$((40+2))\necho second-$((6*7))\n')
        textarea.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
      })
      await expect.poll(() => b.page.getByTestId('paste-dialog').isVisible(), POLL).toBe(true)
      expect(await b.page.getByTestId('paste-preview').textContent()).toContain('echo second-$((6*7))')
      expect(await paneText()).not.toContain('pasted-')

      await b.page.getByTestId('paste-confirm').tap()
      await expect.poll(paneText, POLL).toContain('second-42')
      expect(await paneText()).toContain('pasted-42')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'shows the history in reader mode with its colours, as text, and finds a match',
    async () => {
      desktopTypes("printf '\\033[31mred-word\\033[0m <b>not-bold</b>\\n'")
      desktopTypes('for i in $(seq 1 80); do echo filler-$i; done; echo needle-$((6*7))')
      await expect.poll(paneText, POLL).toContain('needle-42')
      await openTab()

      await b.page.getByTestId('reader-open').tap()
      const reader = b.page.getByTestId('reader-text')
      await expect.poll(() => reader.textContent(), POLL).toContain('red-word')
      const red = reader.locator('span', { hasText: /^red-word$/ })
      expect(await red.evaluate((span) => getComputedStyle(span).color)).toBe('rgb(255, 123, 114)')
      // The output's HTML is text: no element was made from it.
      expect(await reader.textContent()).toContain('<b>not-bold</b>')
      expect(await reader.locator('b').count()).toBe(0)

      await b.page.getByTestId('reader-query').fill('needle-42')
      await expect.poll(() => b.page.getByTestId('reader-count').getAttribute('data-matches'), POLL).not.toBe('0')
      // The current match's line is marked (matches are painted with CSS highlights, leaving the caret in the field).
      expect(await b.page.locator('[data-testid=reader-text] .reader-line[data-current]').textContent()).toContain('needle-42')
      await b.page.getByTestId('reader-query').fill('filler-7')
      // filler-7 and filler-70…79: next and previous step through them.
      await expect.poll(() => b.page.getByTestId('reader-count').textContent(), POLL).toBe('11/11')
      await b.page.getByTestId('reader-next').tap()
      expect(await b.page.getByTestId('reader-count').textContent()).toBe('1/11')

      await b.page.getByTestId('reader-close').tap()
      expect(await b.page.getByTestId('reader').count()).toBe(0)
      expect(await connectionState()).toBe('live')
      // The tmux window kept the desktop's size throughout.
      expect(b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{window_width}').trim()).not.toBe('')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'disables the toolbar of a read-only phone and watches at desktop size',
    async () => {
      await b.signInAs({ readOnly: true })
      await openTab()
      const keys = await b.page.getByTestId('toolbar').locator('button').all()
      expect(keys.length).toBe(14)
      for (const key of keys) expect(await key.isDisabled()).toBe(true)
      expect(await b.page.getByTestId('toolbar').getAttribute('aria-disabled')).toBe('true')

      await focusTerminal()
      await b.page.keyboard.type('echo typed-$((6*7))')
      await b.page.keyboard.press('Enter')
      // The desktop's own keys still arrive; the phone's did not (they would come first).
      desktopTypes('echo desktop-$((6*7))')
      await expect.poll(paneText, POLL).toContain('desktop-42')
      expect(await paneText()).not.toContain('typed-')
      expect(b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{window_width}').trim()).toBe('120')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'keeps the last screen for an instant resume of the tab',
    async () => {
      await openTab()
      desktopTypes('echo resume-$((6*7))')
      await expect.poll(screenText, POLL).toContain('resume-42')
      await b.page.getByTestId('back').tap()
      await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)
      const saved = await b.page.evaluate(() => localStorage.getItem('handoff.screen.proj/0'))
      expect(saved).toContain('resume-42')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})
