import { beforeEach, describe, expect, it } from 'vitest'
import { appendEvent, type EventInput } from '../server/events/index.js'
import { useBrowserHarness } from './support/browser.js'

// Notifications inside the app, on a phone (390×844) in real Chromium over a
// real server and a private tmux server: the switch tells the real state in
// words, the inbox lists recent events with their text and opens their tab,
// and a window's unseen events show with their text in the sessions list and
// in the terminal's window strip. Events are appended to events.jsonl as
// `handoff notify` does. Needs the build (`npm test` builds first).

const POLL = { timeout: 15_000, interval: 50 }
const TEST_TIMEOUT_MS = 60_000

const b = useBrowserHarness()
beforeEach(() => {
  b.tmux.run('new-window', '-d', '-t', 'proj:1', '-n', 'claude')
})

const notify = (input: EventInput) => appendEvent(b.home, input)
const path = () => new URL(b.page.url()).pathname
const text = (testId: string) => b.page.getByTestId(testId).textContent()

/** Waits until the app's event stream is ready (its first `ready` is stored): from then on no event is missed. */
async function streamReady(): Promise<void> {
  const lastId = () =>
    b.page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('handoff.unseen.v1.'))
      return key ? ((JSON.parse(localStorage.getItem(key) ?? 'null') as { lastId: number | null } | null)?.lastId ?? null) : null
    })
  await expect.poll(lastId, POLL).not.toBeNull()
}

describe('the notifications switch', () => {
  it(
    'turns off and says "blocked" in words when the browser refuses permission, and stays so after a reload',
    async () => {
      await b.open('/')
      const panel = b.page.getByTestId('notifications')
      const toggle = b.page.getByTestId('notifications-switch')
      await expect.poll(() => panel.getAttribute('data-state'), POLL).toBe('off')
      expect(await text('notifications-state')).toMatch(/^Off: /)
      expect(await toggle.isChecked()).toBe(false)

      // Headless Chromium answers the permission prompt with "denied", as a user tapping Block would.
      await toggle.click()
      await expect.poll(() => panel.getAttribute('data-state'), POLL).toBe('blocked')
      expect(await b.page.evaluate(() => Notification.permission)).toBe('denied')
      expect(await toggle.isChecked()).toBe(false)
      expect(await toggle.isDisabled()).toBe(true)
      expect(await text('notifications-state')).toMatch(/^Blocked: .*Allow them in the site settings/)

      await b.page.reload()
      await expect.poll(() => panel.getAttribute('data-state'), POLL).toBe('blocked')
      expect(await toggle.isChecked()).toBe(false)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'stays off, with a sentence instead of the browser’s error, when the browser cannot subscribe',
    async () => {
      // Allowed, but this (incognito) browser context has no push service: subscribing fails.
      await b.context.grantPermissions(['notifications'], { origin: b.server.url })
      await b.open('/')
      const panel = b.page.getByTestId('notifications')
      const toggle = b.page.getByTestId('notifications-switch')
      await expect.poll(() => panel.getAttribute('data-state'), POLL).toBe('off')

      await toggle.click()
      await expect.poll(() => text('notifications-state'), POLL).toMatch(/^Could not turn notifications on: /)
      expect(await text('notifications-state')).not.toMatch(/Registration failed|DOMException|Error/)
      expect(await panel.getAttribute('data-state')).toBe('off')
      expect(await toggle.isChecked()).toBe(false)
      // Still usable: the next tap tries again.
      expect(await toggle.isDisabled()).toBe(false)
      expect(await b.page.getByTestId('notifications-test').isDisabled()).toBe(true)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})

describe('the inbox', () => {
  it(
    'lists recent events with their text, newest first, live, and a tap opens the tab',
    async () => {
      const first = await notify({ type: 'stop', message: 'tests passed', tmux_session: 'proj', tmux_window: 0 })
      const untabbed = await notify({ type: 'custom', message: '<b>build</b> done' })
      const waiting = await notify({ type: 'notify', title: 'Claude Code', message: 'Claude needs your permission to use Bash', tmux_session: 'proj', tmux_window: 1 })
      await b.open('/')
      await b.page.getByTestId('inbox-open').click()
      await expect.poll(path, POLL).toBe('/inbox')

      const items = b.page.getByTestId('inbox-item')
      const messages = () => b.page.getByTestId('inbox-message').allTextContents()
      await expect.poll(messages, POLL).toEqual(['Claude needs your permission to use Bash', '<b>build</b> done', 'tests passed'])
      expect(await items.evaluateAll((all) => all.map((e) => Number((e as HTMLElement).dataset.id)))).toEqual([waiting.id, untabbed.id, first.id])
      // Text stays text: the markup in a message is characters on screen, not an element.
      expect(await b.page.locator('[data-testid=inbox] b').count()).toBe(0)
      expect(await items.first().textContent()).toContain('Claude Code')
      expect(await items.first().textContent()).toContain('proj:1')

      // A new event comes in at the top while the inbox is open.
      await streamReady()
      await notify({ type: 'error', message: 'deploy failed', tmux_session: 'proj', tmux_window: 0 })
      await expect.poll(() => messages().then((m) => m[0]), POLL).toBe('deploy failed')
      expect(await items.first().getAttribute('data-new')).toBe('')

      await items.nth(1).click()
      await expect.poll(path, POLL).toBe('/t/proj/1')
      await b.page.getByTestId('status').and(b.page.locator('[data-state="live"]')).waitFor({ timeout: POLL.timeout })
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})

describe('unseen events on windows', () => {
  it(
    'shows another window’s event with its text in the strip and on the sessions list, never the window on screen',
    async () => {
      await b.open('/t/proj/0')
      await streamReady()
      await notify({ type: 'notify', title: 'Claude Code', message: 'Claude needs your permission to use Bash', tmux_session: 'proj', tmux_window: 1 })
      await notify({ type: 'stop', message: 'seen as it comes', tmux_session: 'proj', tmux_window: 0 })

      const other = b.page.getByTestId('strip-window-1')
      await expect.poll(() => other.getByTestId('unseen').textContent(), POLL).toBe('1')
      expect(await other.getByTestId('unseen-text').textContent()).toBe('Claude needs your permission to use Bash')
      expect(await other.getAttribute('aria-label')).toBe('Window 1: claude, 1 new: Claude needs your permission to use Bash')
      expect(await b.page.getByTestId('strip-window-0').getByTestId('unseen').count()).toBe(0)

      await b.page.getByTestId('back').click()
      const session = b.page.getByTestId('session-proj')
      await expect.poll(() => session.getByTestId('unseen').textContent(), POLL).toBe('1')
      expect(await session.getByTestId('unseen-text').textContent()).toBe('Claude needs your permission to use Bash')
      await session.click()
      const window1 = b.page.getByTestId('window-1')
      await expect.poll(() => window1.getByTestId('unseen-text').textContent(), POLL).toBe('Claude needs your permission to use Bash')
      expect(await window1.getByTestId('unseen').textContent()).toBe('1')
      expect(await b.page.getByTestId('window-0').getByTestId('unseen').count()).toBe(0)

      // Opening the window clears it, there and in the list.
      await window1.click()
      await expect.poll(path, POLL).toBe('/t/proj/1')
      await b.page.getByTestId('back').click()
      await expect.poll(() => b.page.getByTestId('window-1').count(), POLL).toBe(1)
      expect(await b.page.getByTestId('unseen').count()).toBe(0)
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})

describe('the sessions list', () => {
  it(
    'keeps the expanded session open on the way back from a window, and “+ New window” opens the new window',
    async () => {
      await b.open('/')
      await b.page.getByTestId('session-proj').click()
      await b.page.getByTestId('window-0').click()
      await b.page.getByTestId('status').and(b.page.locator('[data-state="live"]')).waitFor({ timeout: POLL.timeout })
      await b.page.getByTestId('back').click()
      await expect.poll(path, POLL).toBe('/')
      await b.page.getByTestId('window-1').waitFor({ timeout: POLL.timeout })
      expect(await b.page.getByTestId('session-proj').getAttribute('aria-expanded')).toBe('true')

      await b.page.getByTestId('new-window').click()
      await expect.poll(path, POLL).toBe('/t/proj/2')
      await b.page.getByTestId('status').and(b.page.locator('[data-state="live"]')).waitFor({ timeout: POLL.timeout })
      expect(b.tmux.run('list-windows', '-t', 'proj', '-F', '#{window_index}').split('\n').filter(Boolean)).toEqual(['0', '1', '2'])
      expect(b.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )
})
