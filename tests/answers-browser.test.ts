import { describe, expect, it } from 'vitest'
import { appendEvent, type EventInput } from '../server/events/index.js'
import { useHarnessPerTest, type BrowserHarness } from './support/browser.js'
import { claudeAsks, untilAnswerable } from './support/events.js'

// The answer buttons (web/terminal/answers.ts) in real Chromium on a phone:
// a tab opened from a notification's `?answer=` marker (what iOS gets, with no
// notification actions), and a live event with choices while the tab is shown.
// Window 1 of `proj` plays an agent's prompt: it asks, reads one line, and
// says what it read. Needs the build (`npx tsc -p tsconfig.build.json &&
// npx vite build`; `npm test` builds first).

const POLL = { timeout: 15_000, interval: 100 }
const PROMPT = `printf 'Do you want to proceed?\\n1. Yes\\n2. No\\n'; read -r answer; echo "answered $answer"; exec cat`

const startHarness = useHarnessPerTest({ expectNoProblems: true })

/** A harness whose `proj:1` asks the prompt; returns its pane id. */
async function start(grant: { readOnly?: boolean } = {}): Promise<{ h: BrowserHarness; pane: string }> {
  const h = await startHarness({ grant })
  h.tmux.run('new-window', '-d', '-t', 'proj:1', PROMPT)
  await expect.poll(() => h.tmux.capture('proj:1'), POLL).toContain('2. No')
  return { h, pane: h.tmux.run('display-message', '-p', '-t', 'proj:1', '#{pane_id}').trim() }
}

/** Writes an event with the prompt's choices as `handoff notify` does, and waits until the server serves it. */
async function ask(harness: BrowserHarness, pane: string, extra: Partial<EventInput> = {}): Promise<number> {
  const choices = [
    { label: 'Yes', keys: '1<Enter>' },
    { label: 'No', keys: '2<Enter>' },
  ]
  const { id } = await appendEvent(harness.home, { ...claudeAsks({ session: 'proj', window: 1, pane }, choices), ...extra })
  await untilAnswerable(harness.page, id)
  return id
}

const bar = (harness: BrowserHarness) => harness.page.getByTestId('answer-bar')

describe('answer buttons', () => {
  it('shows the choices of the event a notification opened, large, and a tap types the answer into the pane', async () => {
    const { h, pane } = await start()
    await h.open('/')
    const id = await ask(h, pane)
    await h.open(`/t/proj/1?answer=${id}`)
    await expect.poll(() => bar(h).isVisible(), POLL).toBe(true)
    await expect.poll(() => h.page.getByTestId('answer-text').textContent(), POLL).toBe('Claude Code: Claude needs your permission to use Bash')
    expect(await h.page.locator('.answer-choice').allTextContents()).toEqual(['Yes', 'No'])
    // Touch targets of at least 44 px, above the toolbar.
    for (const box of await Promise.all((await h.page.locator('.answer-choice, .answer-dismiss').all()).map((b) => b.boundingBox()))) {
      expect(box!.height).toBeGreaterThanOrEqual(44)
      expect(box!.width).toBeGreaterThanOrEqual(44)
    }
    const barBox = (await bar(h).boundingBox())!
    const toolbarBox = (await h.page.locator('.term-toolbar').boundingBox())!
    expect(barBox.y + barBox.height).toBeLessThanOrEqual(toolbarBox.y + 1)
    // The marker is read once: a reload does not ask again.
    expect(new URL(h.page.url()).search).toBe('')

    await h.page.getByTestId('answer-choice-0').tap()
    await expect.poll(() => h.tmux.capture('proj:1'), POLL).toContain('answered 1')
    await expect.poll(() => bar(h).isVisible(), POLL).toBe(false)
  })

  it('shows the choices of a live event for the tab on screen, and says why when the question has moved on', async () => {
    const { h, pane } = await start()
    await h.open('/t/proj/1')
    // Another tab's question shows nothing here.
    await ask(h, pane, { tmux_window: 0, tmux_pane: h.tmux.run('display-message', '-p', '-t', 'proj:0', '#{pane_id}').trim() })
    const first = await ask(h, pane, { choices: [{ label: 'Yes', keys: '1<Enter>' }, { label: 'Type x', keys: 'x' }] })
    await expect.poll(() => bar(h).isVisible(), POLL).toBe(true)
    expect(await h.page.locator('.answer-choice').allTextContents()).toEqual(['Yes', 'Type x'])
    // Answered meanwhile elsewhere (the notification's action, another phone), on the prompt's own line:
    // the screen moved by one row only, so the choices stay, and the server refuses the second answer.
    const elsewhere = await h.page.evaluate(
      async (path) => (await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"choice":1}' })).status,
      `/api/events/${first}/answer`,
    )
    expect(elsewhere).toBe(200)
    await expect.poll(() => h.tmux.capture('proj:1'), POLL).toMatch(/2\. No\nx/)
    await h.page.getByTestId('answer-choice-0').tap()
    await expect.poll(() => h.page.getByTestId('answer-problem').textContent(), POLL).toContain('already answered')
    expect(await h.page.locator('.answer-choice').count()).toBe(0)
    expect(h.tmux.capture('proj:1')).not.toContain('answered')
    await h.page.getByTestId('answer-dismiss').tap()
    expect(await bar(h).isVisible()).toBe(false)
  })

  it('hides the choices when the prompt is answered at the computer (the screen changes)', async () => {
    const { h, pane } = await start()
    await h.open('/t/proj/1')
    await ask(h, pane)
    await expect.poll(() => bar(h).isVisible(), POLL).toBe(true)
    // The desktop answers: the prompt's screen moves on.
    h.tmux.run('send-keys', '-t', pane, '-l', '1')
    h.tmux.run('send-keys', '-t', pane, 'Enter')
    await expect.poll(() => h.tmux.capture('proj:1'), POLL).toContain('answered 1')
    await expect.poll(() => bar(h).isVisible(), POLL).toBe(false)
  })

  it('hides the choices when a later event from the pane settles the question', async () => {
    const { h, pane } = await start()
    await h.open('/t/proj/1')
    await ask(h, pane)
    await expect.poll(() => bar(h).isVisible(), POLL).toBe(true)
    await appendEvent(h.home, { type: 'stop', message: 'Claude finished', tmux_session: 'proj', tmux_window: 1, tmux_pane: pane })
    await expect.poll(() => bar(h).isVisible(), POLL).toBe(false)
    expect(h.tmux.capture('proj:1')).not.toContain('answered')
  })

  it('shows no choices on a read-only phone', async () => {
    const { h, pane } = await start({ readOnly: true })
    await h.open('/')
    const id = await ask(h, pane)
    await h.open(`/t/proj/1?answer=${id}`)
    await ask(h, pane)
    // Given the time both ways would take to show them.
    await h.page.waitForTimeout(1_500)
    expect(await bar(h).isVisible()).toBe(false)
    expect(h.tmux.capture('proj:1')).not.toContain('answered')
  })
})
