import type { CDPSession, Worker } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { appendEvent } from '../server/events/index.js'
import { payloadFor } from '../server/events/push/index.js'
import { useBrowserHarness } from './support/browser.js'
import { claudeAsks, untilAnswerable } from './support/events.js'

// The service worker's side of Web Push in real Chromium. Needs the built web
// app (`npx vite build`; `npm test` builds first): only production builds
// register the worker. A push is delivered with the DevTools Protocol
// (ServiceWorker.deliverPushMessage), as a push service would; headless
// Chromium cannot subscribe to a real push service, so nothing here does.
// Chromium cannot click a system notification either: the click test calls
// the worker's own click navigation (handoffOpenFromNotification) in the
// worker, which is what its notificationclick listener runs.

const POLL = { timeout: 15_000, interval: 100 }

// The Push API needs a persistent profile.
const b = useBrowserHarness({ persistent: true, mobile: false, expectNoProblems: true })
let cdp: CDPSession
let registrationId: string
let worker: Worker

beforeEach(async () => {
  await b.context.grantPermissions(['notifications'], { origin: b.server.url })
  cdp = await b.context.newCDPSession(b.page)
  const registrations = new Map<string, string>()
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId)
  })
  await cdp.send('ServiceWorker.enable')
  await b.openControlled('/')
  await expect.poll(() => registrations.get(`${b.server.url}/`), POLL).toBeDefined()
  registrationId = registrations.get(`${b.server.url}/`) as string
  await expect.poll(() => b.context.serviceWorkers().length, POLL).toBeGreaterThan(0)
  worker = b.context.serviceWorkers()[0] as Worker
})

const push = (payload: Record<string, unknown>) =>
  cdp.send('ServiceWorker.deliverPushMessage', { origin: b.server.url, registrationId, data: JSON.stringify(payload) })

/**
 * Delivers a push until its notification shows. Headless Chromium sometimes
 * drops a push delivered through DevTools (the worker never sees it), so this
 * re-delivers as a push service would; the worker shows an id once either way.
 */
async function show(p: Record<string, unknown>): Promise<void> {
  const shown = async () => (await notifications()).some((n) => (n.data as { id?: unknown } | null)?.id === p.id)
  for (let attempt = 0; attempt < 5 && !(await shown()); attempt++) {
    await push(p)
    await expect.poll(shown, { timeout: 3_000, interval: 100 }).toBe(true).catch(() => {})
  }
  expect(await shown()).toBe(true)
}

const payload = (extra: Record<string, unknown> = {}) => ({
  id: 5,
  ts: new Date().toISOString(),
  type: 'notify',
  title: 'Claude Code',
  body: '<b>waiting</b> for you',
  tag: 'tab:proj:0',
  url: '/t/proj/0',
  ...extra,
})

const notifications = () =>
  b.page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready
    return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data as unknown, actions: (n as Notification & { actions?: unknown }).actions }))
  })

describe('service worker push', () => {
  it('shows a pushed event with the tab as tag and deep link, text as text', async () => {
    await show(payload())
    await expect.poll(notifications, POLL).toEqual([
      { title: 'Claude Code', body: '<b>waiting</b> for you', tag: 'tab:proj:0', data: { url: `${b.server.url}/t/proj/0`, id: 5 }, actions: [] },
    ])
  })

  it('replaces the tab’s notification with a newer event, and keeps other tabs', async () => {
    await show(payload())
    await show(payload({ id: 6, body: 'newer' }))
    await show(payload({ id: 7, tag: 'type:stop', url: '/', title: 'Finished', body: '' }))
    await expect.poll(async () => (await notifications()).map((n) => [n.tag, n.body]).sort(), POLL).toEqual([
      ['tab:proj:0', 'newer'],
      ['type:stop', ''],
    ])
  })

  it('drops a stale push, and never opens a link to another origin', async () => {
    await show(payload({ id: 9, url: 'https://evil.example/phish', tag: 'tab:proj:1' }))
    await push(payload({ id: 8, ts: new Date(Date.now() - 3 * 60 * 60_000).toISOString(), tag: 'tab:proj:9' }))
    await show(payload({ id: 10, tag: 'tab:proj:2', url: '/t/proj/2' }))
    await expect.poll(async () => (await notifications()).map((n) => [n.tag, n.data]).sort(), POLL).toEqual([
      ['tab:proj:1', { url: `${b.server.url}/`, id: 9 }],
      ['tab:proj:2', { url: `${b.server.url}/t/proj/2`, id: 10 }],
    ])
  })

  it('a click navigates the open window to the tab', async () => {
    await worker.evaluate((url) => (self as unknown as { handoffOpenFromNotification(u: string): Promise<void> }).handoffOpenFromNotification(url), `${b.server.url}/t/proj/0`)
    await b.page.waitForURL(`${b.server.url}/t/proj/0`, { timeout: POLL.timeout })
    // Another origin is ignored: the page stays where it is.
    await worker.evaluate(() => (self as unknown as { handoffOpenFromNotification(u: string): Promise<void> }).handoffOpenFromNotification('https://evil.example/'))
    expect(b.page.url()).toBe(`${b.server.url}/t/proj/0`)
  })

  it('opening the tab in the app clears its notification', async () => {
    await show(payload({ tag: 'tab:proj:0' }))
    await show(payload({ id: 10, tag: 'tab:proj:1', url: '/t/proj/1' }))
    await expect.poll(async () => (await notifications()).length, POLL).toBe(2)
    await b.page.goto(`${b.server.url}/t/proj/0`)
    await expect.poll(async () => (await notifications()).map((n) => n.tag), POLL).toEqual(['tab:proj:1'])
  })
})

describe('answering from a notification', () => {
  /** An event with Claude's choices for the pane of proj:0 (its shell), as the server has it; and the push it sends a device that may type. */
  async function asking(): Promise<{ id: number; pane: string; pushed: Record<string, unknown> }> {
    const pane = b.tmux.run('display-message', '-p', '-t', 'proj:0', '#{pane_id}').trim()
    const choices = [
      { label: 'Yes', keys: 'echo said-yes<Enter>' },
      { label: "Yes, don't ask again", keys: 'echo said-always<Enter>' },
      { label: 'No', keys: 'echo said-no<Enter>' },
    ]
    const event = await appendEvent(b.home, claudeAsks({ session: 'proj', window: 0, pane }, choices))
    await untilAnswerable(b.page, event.id)
    return { id: event.id, pane, pushed: { ...payloadFor(event, false, true) } }
  }

  type Answer = { ok: boolean; code?: string; label?: string }
  const act = (data: unknown, action: string): Promise<Answer> =>
    worker.evaluate(
      ([d, a]) => (self as unknown as { handoffAnswerFromNotification(d: unknown, a: string): Promise<Answer> }).handoffAnswerFromNotification(d, a),
      [data, action] as const,
    )

  it('shows the choices as actions, and an action types the answer into the exact pane', async () => {
    const { id, pushed } = await asking()
    await show(pushed)
    const [shown] = await notifications()
    expect(shown!.data).toEqual({ url: `${b.server.url}/t/proj/0?answer=${id}`, id, choices: ['Yes', "Yes, don't ask again", 'No'] })
    // As many as the platform shows; with fewer than the choices, the first ones and the last (the way out).
    const max = await worker.evaluate(() => (Notification as unknown as { maxActions: number }).maxActions)
    const all = [{ action: '0', title: 'Yes' }, { action: '1', title: "Yes, don't ask again" }, { action: '2', title: 'No' }]
    expect((shown!.actions as { action: string; title: string }[]).map(({ action, title }) => ({ action, title }))).toEqual(max >= 3 ? all : [...all.slice(0, max - 1), all[2]])

    expect(await act(shown!.data, '2')).toMatchObject({ ok: true, label: 'No' })
    await expect.poll(() => b.tmux.capture('proj:0'), POLL).toContain('said-no')
    // The notification and the app cannot both answer: the second is refused, and says so.
    expect(await act(shown!.data, '0')).toMatchObject({ ok: false, code: 'ANSWER_STALE' })
    await expect.poll(async () => (await notifications()).map((n) => n.title), POLL).toContain('Not sent: “Yes”')
    expect(b.tmux.capture('proj:0')).not.toContain('said-yes')
  })

  it('refuses an action from a read-only device, typing nothing', async () => {
    const { pushed } = await asking()
    await b.signInAs({ name: 'viewer', readOnly: true })
    await show(pushed)
    const [shown] = await notifications()
    expect(await act(shown!.data, '0')).toMatchObject({ ok: false, code: 'READ_ONLY' })
    await expect.poll(async () => (await notifications()).map((n) => [n.title, n.body]), POLL).toContainEqual([
      'Not sent: “Yes”',
      expect.stringContaining('read-only'),
    ])
    expect(b.tmux.capture('proj:0')).not.toContain('said-')
  })

  it('a tap without an action (iOS has none) opens the tab with the choices as buttons', async () => {
    const { pushed } = await asking()
    await show(pushed)
    const [shown] = await notifications()
    await worker.evaluate((url) => (self as unknown as { handoffOpenFromNotification(u: string): Promise<void> }).handoffOpenFromNotification(url), (shown!.data as { url: string }).url)
    await b.page.getByTestId('answer-bar').waitFor({ state: 'visible', timeout: POLL.timeout })
    await b.page.getByTestId('answer-choice-1').click()
    await expect.poll(() => b.tmux.capture('proj:0'), POLL).toContain('said-always')
  })
})
