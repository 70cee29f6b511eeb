import { describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'
import type { Point } from './support/touch.js'

// Scrolling on a phone follows what it shows: a shell's history (fetched from
// tmux as the user reaches the top of what the phone has), a full-screen
// program without the mouse (arrow keys), a program that asked for the mouse
// (wheel reports); and the desktop-size view pans and zooms.

const POLL = { timeout: 15_000, interval: 100 }
const TEST_TIMEOUT_MS = 90_000

const b = useBrowserHarness()

const screenRows = () => b.page.$$eval('.xterm-rows > div', (rows) => rows.map((row) => (row.textContent ?? '').trimEnd()))
const desktopTypes = (line: string) => b.tmux.run('send-keys', '-t', 'proj:0', line, 'Enter')
const pane = () => b.tmux.capture('proj:0')
async function terminalCentre(): Promise<Point> {
  const box = (await b.page.getByTestId('terminal').boundingBox())!
  return { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) }
}
/** The first number on the screen's first row (less and vim show the file's lines). */
const firstNumber = async () => Number(/\d+/.exec((await screenRows())[0] ?? '')?.[0] ?? NaN)

describe('swipe in a shell', () => {
  it(
    'scrolls back past the history the phone started with, stays put while output arrives, and returns live in one tap',
    async () => {
      await desktopTypes('clear; for i in $(seq 1 600); do echo hist-$i; done')
      await expect.poll(pane, POLL).toContain('hist-600')
      // The phone starts with 200 lines of history; the rest is tmux's to send when asked.
      await b.setTerminalPrefs({ historyLines: 200 })
      await b.open('/t/proj/0')
      const at = await terminalCentre()
      const live = b.page.getByTestId('scroll-live')
      expect(await live.isVisible()).toBe(false)
      await expect
        .poll(async () => {
          await b.touch.swipe(at, 0, 500, { speed: 3000 })
          return (await screenRows()).includes('hist-1')
        }, POLL)
        .toBe(true)
      expect(await live.isVisible()).toBe(true)

      // New output while the user reads: the view stays on the same lines.
      const reading = await screenRows()
      await desktopTypes('echo fresh-$((40+2))')
      await expect.poll(pane, POLL).toContain('fresh-42')
      await b.page.waitForTimeout(300)
      expect(await screenRows()).toEqual(reading)

      await live.click()
      await expect.poll(async () => (await screenRows()).join('\n'), POLL).toContain('fresh-42')
      expect(await live.isVisible()).toBe(false)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'keeps flinging after the finger lifts',
    async () => {
      await desktopTypes('clear; for i in $(seq 1 400); do echo line-$i; done')
      await expect.poll(pane, POLL).toContain('line-400')
      await b.open('/t/proj/0')
      const at = await terminalCentre()
      const top = () => b.page.evaluate(() => document.querySelector('.xterm-rows > div')?.textContent?.trim() ?? '')
      // A slow drag moves with the finger only; a fast one of the same length carries on.
      await b.touch.swipe(at, 0, 150, { speed: 300, hold: true })
      const afterSlow = Number(/\d+/.exec(await top())?.[0])
      await b.page.getByTestId('scroll-live').click()
      await b.touch.swipe(at, 0, 150, { speed: 4000 })
      await b.page.waitForTimeout(1000)
      const afterFling = Number(/\d+/.exec(await top())?.[0])
      expect(afterFling).toBeLessThan(afterSlow - 20)
    },
    TEST_TIMEOUT_MS,
  )
})

describe('swipe in a full-screen program', () => {
  it(
    'scrolls less with arrow keys, as it has no mouse',
    async () => {
      desktopTypes('seq 1 500 > /tmp/handoff-scroll-$$.txt; less /tmp/handoff-scroll-$$.txt')
      await expect.poll(() => b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{alternate_on}').trim(), POLL).toBe('1')
      await b.open('/t/proj/0')
      await expect.poll(firstNumber, POLL).toBe(1)
      // The finger moves up: later lines come into view, in less as in the shell.
      await b.touch.swipe(await terminalCentre(), 0, -200, { hold: true })
      await expect.poll(() => pane().split('\n')[0], POLL).not.toBe('1')
      const top = Number(pane().split('\n')[0])
      expect(top).toBeGreaterThan(5)
      await expect.poll(firstNumber, POLL).toBe(top)
      desktopTypes('q')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'sends wheel reports to vim when it asked for the mouse',
    async () => {
      desktopTypes("seq 1 500 > /tmp/handoff-vim-$$.txt; vim -u NONE -i NONE -N -c 'set mouse=a' /tmp/handoff-vim-$$.txt")
      await expect.poll(() => b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{mouse_any_flag}').trim(), POLL).toBe('1')
      await b.open('/t/proj/0')
      await expect.poll(firstNumber, POLL).toBe(1)
      await b.touch.swipe(await terminalCentre(), 0, -200, { hold: true })
      // vim scrolls its view (several lines per wheel notch), the cursor stays in the file.
      await expect.poll(() => Number(pane().split('\n')[0]), POLL).toBeGreaterThan(3)
      await expect.poll(firstNumber, POLL).toBe(Number(pane().split('\n')[0]))
      desktopTypes(':qa!')
    },
    TEST_TIMEOUT_MS,
  )
})
