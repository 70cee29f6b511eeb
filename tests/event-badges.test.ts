import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { useHarnessPerTest, type BrowserHarness } from './support/browser.js'
import { changeDevice } from './support/device.js'

// Unseen-event badges (web/events.ts) in real Chromium: `handoff notify`
// appends an event, the server streams it to the open app, the sessions list
// shows it. Needs the build (`npx tsc -p tsconfig.build.json && npx vite build`;
// `npm test` builds first).

const POLL = { timeout: 10_000, interval: 100 }
const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))

const start = useHarnessPerTest()
/** The running harness, stopped after each test. */
let harness: BrowserHarness | undefined
/** The page the test looks at (a test may close it and open another). */
let page: Page

/** A signed-in page of a device allowed `sessions`, on the sessions list with its event stream ready. */
async function openList(sessions = '*'): Promise<BrowserHarness> {
  const b = (harness = await start({ sessions: ['proj', 'other-1'], mobile: false, grant: { sessions } }))
  page = b.page
  await b.open('/')
  // The stream's `ready` is stored: from here on no event is missed.
  await expect.poll(() => stored().then((s) => s?.lastId ?? null), POLL).not.toBeNull()
  return b
}

/** What web/events.ts keeps in localStorage for the signed-in device. */
function stored(): Promise<{ lastId: number | null; entries: { tab?: { session: string; window: number }; count: number }[] } | undefined> {
  return page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith('handoff.unseen.v1.'))
    return key ? JSON.parse(localStorage.getItem(key) ?? 'null') : undefined
  })
}

/** Runs `handoff notify ...args --json` outside tmux with the server's HANDOFF_HOME; answers the event's id. */
function notify(...args: string[]): Promise<number> {
  const { TMUX: _t, TMUX_PANE: _p, ...rest } = process.env
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, 'notify', ...args, '--json'], { env: { ...rest, HANDOFF_HOME: harness!.home }, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`handoff notify failed: ${stderr}`, { cause: error }))
      else resolve((JSON.parse(stdout) as { id: number }).id)
    })
  })
}

const badge = (testId: string) => page.getByTestId(testId).getByTestId('unseen')
const badgeText = (testId: string) => badge(testId).count().then((n) => (n === 0 ? null : badge(testId).textContent()))
const latestText = (testId: string) => page.getByTestId(testId).getByTestId('unseen-text').textContent()

describe('unseen-event badges', () => {
  it('shows a new event on its session and window, and clears it when the window is opened', async () => {
    const b = await openList()
    await notify('--type', 'notify', '--message', 'needs you', '--tmux-session', 'proj', '--tmux-window', '0')

    await expect.poll(() => badgeText('session-proj'), POLL).toBe('1')
    await page.getByTestId('session-proj').click()
    await expect.poll(() => badgeText('window-0'), POLL).toBe('1')
    expect(await latestText('window-0')).toBe('needs you')
    expect(await badgeText('session-other-1')).toBeNull()

    // The newest message shows beside the count, as text: markup in it stays characters.
    await notify('--type', 'stop', '--title', 'Claude', '--message', '<b>done</b>', '--tmux-session', 'proj', '--tmux-window', '0')
    await expect.poll(() => badgeText('window-0'), POLL).toBe('2')
    expect(await latestText('window-0')).toBe('<b>done</b>')
    expect(await page.locator('[data-testid="unseen-text"] b').count()).toBe(0)

    await page.getByTestId('window-0').click()
    await expect.poll(() => new URL(page.url()).pathname, POLL).toBe('/t/proj/0')
    await expect.poll(() => stored().then((s) => s?.entries.length), POLL).toBe(0)

    // An event for the window on screen is seen as it arrives.
    const id = await notify('--type', 'notify', '--message', 'while looking', '--tmux-session', 'proj', '--tmux-window', '0')
    await expect.poll(() => stored().then((s) => s?.lastId), POLL).toBe(id)
    await page.getByTestId('back').click()
    await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
    expect(await badgeText('session-proj')).toBeNull()
    expect((await stored())?.entries).toEqual([])
    expect(b.problems).toEqual([])
  })

  it('shows nothing of sessions the device may not see', async () => {
    const b = await openList('other-*')
    await notify('--type', 'notify', '--message', 'needs you', '--tmux-session', 'proj', '--tmux-window', '0')
    await notify('--type', 'notify', '--message', 'yours', '--tmux-session', 'other-1', '--tmux-window', '0')

    // The later event arrived, so the earlier one would have too.
    await expect.poll(() => badgeText('session-other-1'), POLL).toBe('1')
    expect(await page.getByTestId('session-proj').count()).toBe(0)
    expect(await page.getByTestId('unseen').count()).toBe(1)
    expect((await stored())?.entries.map((e) => e.tab?.session)).toEqual(['other-1'])
    expect(b.problems).toEqual([])
  })

  it('counts events sent while the app was closed when it opens again', async () => {
    const b = await openList()
    await page.close()
    await notify('--type', 'error', '--message', 'failed', '--tmux-session', 'proj', '--tmux-window', '0')

    page = await b.context.newPage()
    await page.goto(b.server.url)
    await expect.poll(() => badgeText('session-proj'), POLL).toBe('1')
    expect(b.problems).toEqual([])
  })

  it('stops quietly when the device is signed out', async () => {
    const b = await openList()
    const statuses: string[] = []
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname
      if (path === '/api/events' || path === '/api/me') statuses.push(`${path} ${r.status()}`)
    })
    await changeDevice(b.home, b.device.record.id, () => ({ status: 'revoked' }))

    // The server ends the stream; the EventSource's reconnect is refused, and one /api/me says why.
    await expect.poll(() => statuses, POLL).toContain('/api/me 401')
    const streams = statuses.filter((s) => s.startsWith('/api/events')).length
    expect(statuses).toContain('/api/events 401')
    // The sessions list's next refresh takes the phone to sign-in; the stream has not been retried meanwhile.
    await expect.poll(() => page.getByTestId('signin-button').count(), POLL).toBe(1)
    expect(statuses.filter((s) => s.startsWith('/api/events')).length).toBe(streams)
    expect(b.problems).toEqual([])
  })
})
