import { describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'

// The sessions screen in Chromium follows tmux live: a window made on the
// desktop shows up without a reload or a fetch. Needs the build in dist/web
// (`npx vite build`); the test serves its own copy, so a rebuild meanwhile
// cannot empty the folder under it.

/** The bound for a desktop change to reach the open list. */
const VISIBLE_WITHIN_MS = 1_000

const b = useBrowserHarness({ copyWeb: true, expectNoProblems: true })

describe('the live sessions screen', () => {
  it('shows a window made on the desktop within a second, without a reload or a fetch', async () => {
    const stream = b.page.waitForResponse((r) => new URL(r.url()).pathname === '/api/events')
    await b.open('/')
    await b.page.getByTestId('session-proj').click()
    await b.page.getByTestId('window-0').waitFor()
    expect((await stream).status()).toBe(200)
    // A reload would lose this; and nothing may ask /api/sessions again: the stream brings the change.
    await b.page.evaluate(() => document.body.setAttribute('data-before-change', ''))
    const fetched: string[] = []
    b.page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/sessions')) fetched.push(r.url())
    })

    b.tmux.run('new-window', '-d', '-t', 'proj:1', '-n', 'logs')
    const started = performance.now()
    await b.page.getByTestId('window-1').waitFor({ timeout: VISIBLE_WITHIN_MS })
    const took = performance.now() - started
    process.stderr.write(`desktop new-window → visible on the phone in ${took.toFixed(0)} ms\n`)
    expect(took).toBeLessThan(VISIBLE_WITHIN_MS)
    await expect.poll(() => b.page.getByTestId('window-1').textContent()).toContain('logs')
    expect(await b.page.getByTestId('session-proj').textContent()).toContain('2 windows')

    b.tmux.run('kill-window', '-t', 'proj:1')
    await b.page.getByTestId('window-1').waitFor({ state: 'detached', timeout: VISIBLE_WITHIN_MS })
    expect(await b.page.evaluate(() => document.body.hasAttribute('data-before-change'))).toBe(true)
    expect(fetched).toEqual([])
  })

  it('follows windows made and renamed on the desktop in the terminal\'s window strip', async () => {
    await b.open('/t/proj/0')
    await b.page.getByTestId('strip-window-0').waitFor()
    b.tmux.run('new-window', '-d', '-t', 'proj:1', '-n', 'build')
    await b.page.getByTestId('strip-window-1').waitFor({ timeout: VISIBLE_WITHIN_MS })
    await expect.poll(() => b.page.getByTestId('strip-window-1').textContent()).toBe('1:build')
    b.tmux.run('rename-window', '-t', 'proj:1', 'tests')
    await expect.poll(() => b.page.getByTestId('strip-window-1').textContent(), { timeout: VISIBLE_WITHIN_MS }).toBe('1:tests')
  })
})
