import { describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'

// The phone terminal when the computer goes away and comes back, and the
// reader: no key is lost silently, the screen is current before keys go out
// again, and the reader takes the keys while it is open.

const POLL = { timeout: 15_000, interval: 50 }
const TEST_TIMEOUT_MS = 60_000

const b = useBrowserHarness()

const pane = () => b.tmux.capture('proj:0')
const focusTerminal = () => b.page.locator('[data-testid=terminal] .xterm-helper-textarea').focus()

describe('offline', () => {
  it(
    'dims the terminal and says keys are not sent while the computer is away; live again within a second of its return',
    async () => {
      await b.open('/t/proj/0')
      await focusTerminal()
      await b.page.keyboard.type('echo before-$((1+1))\n')
      await expect.poll(pane, POLL).toContain('before-2')

      await b.stopServer()
      const banner = b.page.getByTestId('offline-banner')
      await expect.poll(() => banner.isVisible(), POLL).toBe(true)
      expect(await b.page.getByTestId('terminal').getAttribute('data-offline')).toBe('')
      expect(await b.page.getByTestId('toolbar').getAttribute('data-paused')).toBe('')
      // A key typed now is refused visibly (the banner flashes), not queued to surprise later.
      const flashBefore = await banner.getAttribute('data-flash')
      await focusTerminal()
      await b.page.keyboard.type('x')
      await expect.poll(() => banner.getAttribute('data-flash'), POLL).not.toBe(flashBefore)

      const back = Date.now()
      await b.restartServer()
      await expect.poll(() => banner.isVisible(), POLL).toBe(false)
      const tookMs = Date.now() - back
      expect(tookMs).toBeLessThan(2_500) // retries at most 1 s apart, plus the reconnect itself on a loaded machine
      await focusTerminal()
      await b.page.keyboard.type('echo after-$((2+2))\n')
      await expect.poll(pane, POLL).toContain('after-4')
      // The refused "x" never reached the pane.
      expect(pane()).not.toMatch(/^x/m)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})

describe('reader', () => {
  it(
    'takes typed search keys whole, steps back through older matches with Enter, and keeps keys from the terminal',
    async () => {
      b.tmux.run('send-keys', '-t', 'proj:0', 'clear; for i in 1 2 3; do echo find-4242-$i; done', 'Enter')
      await expect.poll(pane, POLL).toContain('find-4242-3')
      await b.open('/t/proj/0')
      await b.page.getByTestId('reader-open').click()
      await b.page.getByTestId('reader-text').getByText('find-4242-1').waitFor()
      const query = b.page.getByTestId('reader-query')
      await query.click()
      await b.page.keyboard.type('4242', { delay: 30 })
      expect(await query.inputValue()).toBe('4242')
      const count = b.page.getByTestId('reader-count')
      // Three lines hold it (the command itself was cleared away): the newest match first.
      await expect.poll(() => count.getAttribute('data-matches'), POLL).toBe('3')
      expect(await count.getAttribute('data-current')).toBe('3')
      await b.page.keyboard.press('Enter')
      expect(await count.getAttribute('data-current')).toBe('2')
      await b.page.keyboard.press('Enter')
      expect(await count.getAttribute('data-current')).toBe('1')
      await b.page.keyboard.press('Shift+Enter')
      expect(await count.getAttribute('data-current')).toBe('2')

      // The toolbar sends nothing to the terminal under the reader.
      const before = pane()
      await b.page.getByTestId('key-tab').click()
      await b.page.getByTestId('key-esc').click()
      await b.page.waitForTimeout(300)
      expect(pane()).toBe(before)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})
