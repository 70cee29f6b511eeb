import { describe, expect, it } from 'vitest'
import { useHarnessPerTest, type BrowserHarness } from './support/browser.js'
import type { Point } from './support/touch.js'
import { pointOfText as pointOf } from './support/screen.js'

// The phone terminal gives the terminal the screen: bars collapse in
// landscape and with the keyboard up, full screen hides them all, the
// desktop-size view pans and zooms, and touch selection works like a native
// terminal's.

const POLL = { timeout: 15_000, interval: 100 }
const TEST_TIMEOUT_MS = 90_000
const LANDSCAPE = { width: 844, height: 390 }

const start = useHarnessPerTest()
let b: BrowserHarness

const desktopTypes = (line: string) => b.tmux.run('send-keys', '-t', 'proj:0', line, 'Enter')
const pane = () => b.tmux.capture('proj:0')
const windowRows = () => Number(b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{window_height}').trim())
const visible = (testId: string) => b.page.getByTestId(testId).isVisible()
const heightOf = async (testId: string) => (await b.page.getByTestId(testId).boundingBox())?.height ?? 0
const focusTerminal = () => b.page.locator('[data-testid=terminal] .xterm-helper-textarea').focus()

/** Types a command on the phone and waits for the pane to show its output (the window takes the phone's size once it types). */
async function phoneTypes(command: string, output: string): Promise<void> {
  await focusTerminal()
  await b.page.keyboard.type(`${command}\n`)
  await expect.poll(pane, POLL).toContain(output)
}

/** The cursor's box lies within the terminal's visible area. */
async function cursorInView(): Promise<boolean> {
  return b.page.evaluate(() => {
    const host = document.querySelector('[data-testid=terminal]')!.getBoundingClientRect()
    const cursor = document.querySelector('.xterm-cursor, .xterm-rows .xterm-cursor-block, .xterm-rows .xterm-cursor-outline')?.getBoundingClientRect()
    return cursor !== undefined && cursor.top >= host.top - 1 && cursor.bottom <= host.bottom + 1
  })
}

describe('layout', () => {
  it(
    'in landscape collapses the bars behind a tab, puts the toolbar in one row, and keeps 8 rows with the keyboard up',
    async () => {
      b = await start({ viewport: LANDSCAPE })
      await b.open('/t/proj/0')
      expect(await visible('terminal-chrome')).toBe(false)
      expect(await visible('chrome-tab')).toBe(true)
      // One row of keys, each a full touch target.
      expect(await heightOf('toolbar')).toBeLessThan(60)
      expect(await heightOf('key-esc')).toBeGreaterThanOrEqual(44)
      expect(await heightOf('chrome-tab')).toBeGreaterThanOrEqual(44)
      await phoneTypes('echo wide-$((40+2))', 'wide-42')
      await expect.poll(windowRows, POLL).toBeGreaterThanOrEqual(15)

      // The keyboard takes the lower half: about 844×210 is left.
      await b.page.setViewportSize({ width: 844, height: 210 })
      await phoneTypes('echo keyboard-$((6*7))', 'keyboard-42')
      await expect.poll(windowRows, POLL).toBeGreaterThanOrEqual(8)
      await expect.poll(cursorInView, POLL).toBe(true)

      // The tab shows the bars over the terminal: the window keeps its size.
      const rows = windowRows()
      await b.page.getByTestId('chrome-tab').click()
      await expect.poll(() => visible('back'), POLL).toBe(true)
      await b.page.waitForTimeout(300)
      expect(windowRows()).toBe(rows)
      // A tap on the terminal hides them again.
      await b.touch.tap(await centreOf('terminal'))
      await expect.poll(() => visible('terminal-chrome'), POLL).toBe(false)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'in portrait keeps the bars until the keyboard comes up, then collapses them; full screen hides everything',
    async () => {
      b = await start()
      await b.open('/t/proj/0')
      await expect.poll(() => visible('terminal-chrome'), POLL).toBe(true)
      expect(await visible('chrome-tab')).toBe(false)
      await expect.poll(() => b.page.getByTestId('strip-window-0').isVisible(), POLL).toBe(true)
      expect(await heightOf('strip-window-0')).toBeGreaterThanOrEqual(44)
      const toolbarTwoRows = await heightOf('toolbar')
      expect(toolbarTwoRows).toBeGreaterThan(88)

      await b.page.setViewportSize({ width: 390, height: 480 })
      await expect.poll(() => visible('terminal-chrome'), POLL).toBe(false)
      await expect.poll(() => visible('chrome-tab'), POLL).toBe(true)
      // Too narrow for one row of 14 keys: the toolbar keeps its two rows.
      expect(await heightOf('toolbar')).toBe(toolbarTwoRows)
      await phoneTypes('echo typed-$((40+2))', 'typed-42')
      await expect.poll(cursorInView, POLL).toBe(true)

      await b.page.setViewportSize({ width: 390, height: 844 })
      await expect.poll(() => visible('terminal-chrome'), POLL).toBe(true)
      await b.page.getByTestId('menu-open').click()
      await b.page.getByTestId('full-screen').click()
      await expect.poll(() => visible('toolbar'), POLL).toBe(false)
      await expect.poll(() => visible('terminal-chrome'), POLL).toBe(false)
      // The tab brings the title bar back, and its menu leaves full screen.
      await b.page.getByTestId('chrome-tab').click()
      await b.page.getByTestId('menu-open').click()
      expect(await b.page.getByTestId('full-screen').getAttribute('aria-pressed')).toBe('true')
      await b.page.getByTestId('full-screen').click()
      await expect.poll(() => visible('toolbar'), POLL).toBe(true)
      expect(await visible('terminal-chrome')).toBe(true)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'closes the menu on a tap outside it, and keeps the shown window in view in a long strip',
    async () => {
      b = await start()
      for (let i = 1; i <= 11; i++) b.tmux.run('new-window', '-d', '-t', `proj:${i}`, '-n', `window-number-${i}`)
      await b.open('/t/proj/11')
      const chip = b.page.getByTestId('strip-window-11')
      await expect.poll(() => chip.isVisible(), POLL).toBe(true)
      const strip = (await b.page.getByTestId('window-strip').boundingBox())!
      await expect
        .poll(async () => {
          const box = (await chip.boundingBox())!
          return box.x >= strip.x - 1 && box.x + box.width <= strip.x + strip.width + 1
        }, POLL)
        .toBe(true)

      await b.page.getByTestId('menu-open').click()
      expect(await visible('menu')).toBe(true)
      // Below the menu, which covers the top of the terminal.
      const host = (await b.page.getByTestId('terminal').boundingBox())!
      await b.touch.tap({ x: host.x + host.width / 2, y: host.y + host.height - 20 })
      await expect.poll(() => visible('menu'), POLL).toBe(false)
    },
    TEST_TIMEOUT_MS,
  )
})

describe('desktop-size view', () => {
  const transformScale = () => b.page.evaluate(() => Number(/scale\(([\d.]+)\)/.exec((document.querySelector('[data-testid=terminal] .xterm') as HTMLElement).style.transform)?.[1] ?? 1))
  const scrollLeft = () => b.page.getByTestId('terminal').evaluate((host) => host.scrollLeft)

  it(
    'starts readable, pans on both axes, pinches in small steps, fits the width, and follows the cursor again',
    async () => {
      b = await start()
      b.tmux.run('resize-window', '-t', 'proj:0', '-x', '200', '-y', '50')
      desktopTypes("clear; printf '%180s%s\\n' '' far-right-$((40+2))")
      await expect.poll(pane, POLL).toContain('far-right-42')
      await b.setTerminalPrefs({ sizePolicy: 'desktop' })
      await b.open('/t/proj/0')
      await expect.poll(() => b.page.locator('.xterm-rows').textContent(), POLL).toContain('far-right-42')
      // 200 columns would be about 3 px text at the phone's width: it is at least 9 px, and pans.
      const readable = await transformScale()
      expect(readable * 14).toBeGreaterThanOrEqual(8.99)
      expect(await visible('view-controls')).toBe(true)

      const centre = await centreOf('terminal')
      const before = await scrollLeft()
      await b.touch.swipe(centre, -200, 0, { hold: true })
      await expect.poll(scrollLeft, POLL).toBeGreaterThan(before + 100)
      expect(await b.page.getByTestId('follow-cursor').getAttribute('aria-pressed')).toBe('false')

      // A pinch to about 60 %: the scale follows the fingers, not a jump to a limit.
      await b.touch.pinch(centre, 0.6)
      const pinched = await transformScale()
      expect(pinched).toBeGreaterThan(readable * 0.45)
      expect(pinched).toBeLessThan(readable * 0.8)

      await b.page.getByTestId('fit-width').click()
      const widths = await b.page.evaluate(() => ({
        screen: document.querySelector('[data-testid=terminal] .xterm-screen')!.getBoundingClientRect().width,
        host: document.querySelector('[data-testid=terminal]')!.clientWidth,
      }))
      expect(Math.abs(widths.screen - widths.host)).toBeLessThan(2)

      await b.page.getByTestId('follow-cursor').click()
      expect(await b.page.getByTestId('follow-cursor').getAttribute('aria-pressed')).toBe('true')
      await expect.poll(cursorInView, POLL).toBe(true)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})

describe('selection', () => {
  const pointOfText = (text: string, index: number) =>
    pointOf(b.page, text, index, Number(b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{pane_width}').trim()))
  const clipboard = () => b.page.evaluate(() => navigator.clipboard.readText())

  it(
    'selects a word by long-press, extends it by its handle and by whole lines, and copies without taking the keyboard',
    async () => {
      b = await start()
      await b.context.grantPermissions(['clipboard-read', 'clipboard-write'])
      desktopTypes('clear; echo alpha beta gamma delta')
      await expect.poll(pane, POLL).toMatch(/^alpha beta gamma delta$/m)
      await b.open('/t/proj/0')
      await focusTerminal()

      await b.touch.press(await pointOfText('beta gamma delta', 1), 700)
      // The tap that ends the press does not clear it.
      await b.page.waitForTimeout(300)
      expect(await visible('selection-bar')).toBe(true)
      expect(await visible('selection-start')).toBe(true)
      expect(await visible('selection-end')).toBe(true)

      // The end handle, dragged onto "gamma": the selection grows by characters.
      const handle = (await b.page.getByTestId('selection-end').boundingBox())!
      const target = await pointOfText('gamma delta', 4)
      const grip = centreBox(handle)
      await b.touch.drag(grip, { x: target.x, y: grip.y })
      await b.touch.tap(centreBox((await b.page.getByTestId('copy').boundingBox())!))
      await expect.poll(clipboard, POLL).toBe('beta gamma')
      // Copying kept the focus (and the phone's keyboard) on the terminal.
      expect(await b.page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea'))).toBe(true)
      expect(await visible('selection-bar')).toBe(false)

      // Holding on, the finger extends it word by word.
      await b.touch.press(await pointOfText('alpha', 2), 700, [await pointOfText('gamma', 1), await pointOfText('gamma', 2)])
      await b.touch.tap(centreBox((await b.page.getByTestId('copy').boundingBox())!))
      await expect.poll(clipboard, POLL).toBe('alpha beta gamma')

      await b.touch.press(await pointOfText('delta', 0), 700)
      await b.page.getByTestId('select-lines').click()
      await b.page.getByTestId('copy').click()
      await expect.poll(clipboard, POLL).toBe('alpha beta gamma delta')
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'copies the last command\'s output and selects the screen from the menu',
    async () => {
      b = await start()
      await b.context.grantPermissions(['clipboard-read', 'clipboard-write'])
      await b.open('/t/proj/0')
      await phoneTypes("printf 'out-one\\nout-two\\n'", 'out-two')
      await b.page.getByTestId('menu-open').click()
      await b.page.getByTestId('copy-last-output').click()
      await expect.poll(clipboard, POLL).toBe('out-one\nout-two')
      expect(await visible('menu')).toBe(false)

      await b.page.getByTestId('menu-open').click()
      await b.page.getByTestId('select-screen').click()
      expect(await visible('selection-bar')).toBe(true)
      await b.page.getByTestId('copy').click()
      await expect.poll(clipboard, POLL).toContain("printf 'out-one")
    },
    TEST_TIMEOUT_MS,
  )
})

const centreBox = (box: { x: number; y: number; width: number; height: number }): Point => ({ x: box.x + box.width / 2, y: box.y + box.height / 2 })

async function centreOf(testId: string): Promise<Point> {
  return centreBox((await b.page.getByTestId(testId).boundingBox())!)
}
