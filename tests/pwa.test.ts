import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { beforeEach, describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'
import { VirtualAuthenticator } from './support/passkey.js'

// The installable app in Chromium with a phone's screen and touch: manifest,
// service worker, offline shell, update prompt, lock on resume, the page's
// safety headers, and the size of the first screen. Needs the build in
// dist/web (`npx vite build`); each test serves its own copy of it, so the
// update test can change the worker without touching dist/.

const POLL = { timeout: 15_000, interval: 100 }
/** The budget for the first screen's scripts. */
const FIRST_SCREEN_GZIP_BUDGET = 150 * 1024

const b = useBrowserHarness({ copyWeb: true })
beforeEach(() => {
  b.tmux.run('new-window', '-d', '-t', 'proj:1')
})

/** Uncaught errors, console errors and CSP refusals of every page so far. */
const problems = () => [...b.problems, ...b.consoleErrors]

/** Pretends the phone hid the app (home button, screen off) or showed it again. */
async function setVisibility(state: 'hidden' | 'visible'): Promise<void> {
  await b.page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s })
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' })
    document.dispatchEvent(new Event('visibilitychange'))
  }, state)
}

/** Gives the device a passkey in the phone's virtual authenticator, as pairing would (pairing itself: pairing-browser.test.ts). */
async function givePasskey(): Promise<void> {
  const authenticator = await VirtualAuthenticator.attach(b.context, b.page)
  await authenticator.addPasskeyFor(b.home, b.device.record.id)
}

describe('installable app', () => {
  it('meets the install criteria: a valid manifest with icons that load, and a worker that controls the page', async () => {
    await b.openControlled('/')
    await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)

    const cdp = await b.context.newCDPSession(b.page)
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
    // Playwright's contexts are off-the-record, which alone bars installing; every other criterion must hold.
    expect(installabilityErrors.filter((e) => e.errorId !== 'in-incognito')).toEqual([])
    const { errors } = await cdp.send('Page.getAppManifest')
    expect(errors).toEqual([])

    const manifest = await b.page.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>('link[rel=manifest]')!.href
      return (await fetch(href)).json() as Promise<Record<string, unknown>>
    })
    expect(manifest).toMatchObject({
      name: 'Handoff',
      short_name: 'Handoff',
      start_url: '/',
      scope: '/',
      display: 'standalone',
      theme_color: '#111111',
      background_color: '#111111',
    })
    expect(typeof manifest.description).toBe('string')
    const icons = manifest.icons as { src: string; sizes: string; purpose?: string }[]
    expect(icons.map((i) => `${i.sizes} ${i.purpose ?? 'any'}`).sort()).toEqual(['192x192 any', '512x512 any', '512x512 maskable'])
    // Every icon (and the iOS touch icon) loads and has the size it claims.
    const appleTouch = await b.page.evaluate(() => document.querySelector<HTMLLinkElement>('link[rel=apple-touch-icon]')?.href ?? '')
    for (const { src, sizes } of [...icons, { src: appleTouch, sizes: '180x180' }]) {
      const loaded = await b.page.evaluate(async (url) => {
        const response = await fetch(url)
        const bitmap = await createImageBitmap(await response.blob())
        return `${response.headers.get('content-type')} ${bitmap.width}x${bitmap.height}`
      }, src)
      expect(loaded).toBe(`image/png ${sizes}`)
    }
    // iOS and safe areas.
    const head = await b.page.evaluate(() => ({
      capable: document.querySelector('meta[name=apple-mobile-web-app-capable]')?.getAttribute('content'),
      statusBar: document.querySelector('meta[name=apple-mobile-web-app-status-bar-style]')?.getAttribute('content'),
      viewport: document.querySelector('meta[name=viewport]')?.getAttribute('content'),
      scheme: getComputedStyle(document.documentElement).colorScheme,
    }))
    expect(head).toMatchObject({ capable: 'yes', statusBar: 'black-translucent', scheme: 'dark' })
    expect(head.viewport).toContain('viewport-fit=cover')
    expect(problems()).toEqual([])
  })

  it('serves the page with a strict CSP and safety headers, and keeps the sign-in token out of reach of scripts', async () => {
    const response = await b.page.goto(b.server.url)
    const headers = response!.headers()
    const csp = headers['content-security-policy'] ?? ''
    const directive = (name: string) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `)) ?? ''
    expect(directive('default-src')).toBe("default-src 'self'")
    expect(directive('script-src')).toBe("script-src 'self'")
    expect(csp).not.toContain('unsafe-eval')
    expect(directive('frame-ancestors')).toBe("frame-ancestors 'none'")
    expect(headers['referrer-policy']).toBe('no-referrer')
    expect(headers['x-content-type-options']).toBe('nosniff')
    // No inline script for the CSP to have to allow.
    expect(await response!.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)

    await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)
    // The cookie is httpOnly, and nothing else holds the token.
    expect(await b.page.evaluate(() => document.cookie)).toBe('')
    const stored = await b.page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
    expect(stored).not.toContain(b.device.token)
    expect(b.page.url()).not.toContain(b.device.token)
    expect(problems()).toEqual([])
  })

  it('renders sign-in, sessions, the kill dialog and the terminal without console errors or CSP refusals', async () => {
    // Signed out first: the sign-in screen.
    const signedOut = await b.newPhone({ signedIn: false })
    await signedOut.open('/')
    await expect.poll(() => signedOut.page.getByTestId('signin-button').count(), POLL).toBe(1)
    await signedOut.context.close()
    // /api/me answered 401, as it must without a sign-in; Chromium logs that as a console error. Nothing else went wrong.
    const signedOutErrors = b.consoleErrors.splice(0)
    expect(signedOutErrors.filter((e) => !e.includes(`status of 401 (Unauthorized) (${b.server.url}/api/me)`))).toEqual([])
    expect(b.problems).toEqual([])

    await b.open('/')
    await b.page.getByTestId('session-proj').click()
    await expect.poll(() => b.page.getByTestId('window-1').count(), POLL).toBe(1)
    // Each window shows its index, name, command and folder, and how recently it was active.
    expect(await b.page.getByTestId('window-0').textContent()).toMatch(/^0.*sh.*just now/)
    await b.page.getByTestId('kill-window-1').click()
    await expect.poll(() => b.page.getByTestId('confirm-dialog').isVisible(), POLL).toBe(true)
    await b.page.getByTestId('confirm-cancel').click()
    await b.page.getByTestId('window-0').click()
    await expect.poll(() => b.page.getByTestId('status').getAttribute('data-state'), POLL).toBe('live')
    await expect.poll(() => b.page.locator('.xterm-rows').textContent(), POLL).toMatch(/[$#]/)
    expect(problems()).toEqual([])
  })

  it('loads the first screen within 150 KB of gzipped script, and xterm.js only when a terminal opens', async () => {
    await b.open('/')
    await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)
    const scripts = () =>
      b.page.evaluate(() =>
        performance
          .getEntriesByType('resource')
          .map((e) => new URL(e.name).pathname)
          .filter((p) => p.endsWith('.js') && p !== '/sw.js'),
      )
    const first = await scripts()
    const gzipped = first.reduce((sum, path) => sum + gzipSync(readFileSync(join(b.webRoot, path))).length, 0)
    // The entry comes from index.html's <script>, not the resource timeline.
    const entry = /<script type="module"[^>]*src="([^"]+)"/.exec(readFileSync(join(b.webRoot, 'index.html'), 'utf8'))![1]!
    const total = gzipped + gzipSync(readFileSync(join(b.webRoot, entry))).length
    expect(total).toBeLessThanOrEqual(FIRST_SCREEN_GZIP_BUDGET)
    expect(first.filter((p) => p.includes('terminal'))).toEqual([])
    expect(await b.page.evaluate(() => document.querySelector('.xterm') === null)).toBe(true)

    await b.page.getByTestId('session-proj').click()
    await b.page.getByTestId('window-0').click()
    await expect.poll(() => b.page.getByTestId('status').getAttribute('data-state'), POLL).toBe('live')
    expect((await scripts()).filter((p) => p.includes('terminal'))).toHaveLength(1)
    expect(problems()).toEqual([])
  })
})

describe('offline and updates', () => {
  it('opens from the precached shell with the last known sessions when the computer is unreachable, then recovers', async () => {
    await b.openControlled('/')
    await b.page.getByTestId('session-proj').click()
    await expect.poll(() => b.page.getByTestId('window-1').count(), POLL).toBe(1)

    await b.stopServer()
    await b.page.reload()
    await expect.poll(() => b.page.getByTestId('offline-banner').textContent(), POLL).toMatch(/^Can’t reach localhost — retrying/)
    expect(await b.page.getByTestId('last-session-proj').textContent()).toContain('proj')
    expect(await b.page.getByTestId('last-known').textContent()).toContain('2 windows')

    // It keeps trying on its own (with backoff) and comes back when the server does.
    await b.restartServer()
    await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)
    expect(await b.page.getByTestId('offline').count()).toBe(0)
    // Failed requests log console errors while it is away; nothing fails in the page itself.
    expect(b.problems).toEqual([])
  })

  it('shows "Can\'t reach" over the sessions list when the server stops while it is open', async () => {
    await b.open('/')
    await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)
    await b.stopServer()
    await b.page.getByTestId('refresh').click()
    await expect.poll(() => b.page.getByTestId('offline-banner').textContent(), POLL).toContain('Can’t reach localhost')
    // The list stays as it was: nothing navigates away on its own.
    expect(await b.page.getByTestId('session-proj').count()).toBe(1)
    expect(new URL(b.page.url()).pathname).toBe('/')
    expect(b.problems).toEqual([])
  })

  it('offers "Update available" when a new worker waits, and reloads into it on a tap', async () => {
    await b.openControlled('/')
    const before = await b.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.scriptURL)
    await b.page.evaluate(() => ((window as unknown as { marker: number }).marker = 1))

    // A new release: any byte changed in sw.js makes the browser install it and leave it waiting.
    appendFileSync(join(b.webRoot, 'sw.js'), `\n// release ${Date.now()}\n`)
    await b.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update())
    await expect.poll(() => b.page.getByTestId('update-banner').isVisible(), POLL).toBe(true)
    expect(await b.page.getByTestId('update-banner').textContent()).toContain('Update available')
    expect(await b.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting !== null)).toBe(true)

    await b.page.getByTestId('update-reload').click()
    // The page reloaded (the marker is gone) under the new worker, and nothing waits any more.
    await expect.poll(() => b.page.evaluate(() => (window as unknown as { marker?: number }).marker ?? 0).catch(() => 1), POLL).toBe(0)
    await expect.poll(() => b.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting ?? null), POLL).toBe(null)
    expect(await b.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.scriptURL)).toBe(before)
    await expect.poll(() => b.page.getByTestId('session-proj').count(), POLL).toBe(1)
    expect(await b.page.getByTestId('update-banner').count()).toBe(0)
    expect(problems()).toEqual([])
  })
})

describe('device settings', () => {
  it('asks for the passkey again after the app was in the background long enough, and unlocks with it', async () => {
    await b.page.goto(`${b.server.url}/t/proj/0`)
    await expect.poll(() => b.page.getByTestId('status').getAttribute('data-state'), POLL).toBe('live')
    await givePasskey()
    // 0.005 min = 300 ms (the menu offers 1-60 min; storage takes any number).
    await b.page.evaluate(() => localStorage.setItem('handoff.lockAfterMinutes', '0.005'))

    // Hidden briefly: no lock.
    await setVisibility('hidden')
    await setVisibility('visible')
    expect(await b.page.getByTestId('lock-screen').count()).toBe(0)

    await setVisibility('hidden')
    await b.page.waitForTimeout(400) // the one sleep: the lock is about time passing in the background
    await setVisibility('visible')
    await expect.poll(() => b.page.getByTestId('lock-screen').isVisible(), POLL).toBe(true)
    // Nothing under the cover can be used.
    expect(await b.page.evaluate(() => document.getElementById('app')!.inert)).toBe(true)

    await b.page.getByTestId('unlock-button').click()
    await expect.poll(() => b.page.getByTestId('lock-screen').count(), POLL).toBe(0)
    expect(await b.page.evaluate(() => document.getElementById('app')!.inert)).toBe(false)
    expect(await b.page.getByTestId('status').getAttribute('data-state')).toBe('live')

    // Reopened after long enough (the app was closed in the background): locked before anything shows.
    await b.page.evaluate(() => localStorage.setItem('handoff.hiddenAt', String(Date.now() - 60_000)))
    await b.page.reload()
    await expect.poll(() => b.page.getByTestId('lock-screen').isVisible(), POLL).toBe(true)
    expect(problems()).toEqual([])
  })

  it('offers the lock setting off, 1, 5, 15 and 60 minutes, stored on this phone', async () => {
    await b.open('/')
    await b.page.getByTestId('lock-setting').selectOption('15')
    expect(await b.page.evaluate(() => localStorage.getItem('handoff.lockAfterMinutes'))).toBe('15')
    expect(await b.page.getByTestId('lock-setting').locator('option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual([
      '0', '1', '5', '15', '60',
    ])
    await b.page.getByTestId('lock-setting').selectOption('0')
    expect(await b.page.evaluate(() => localStorage.getItem('handoff.lockAfterMinutes'))).toBe(null)
    expect(problems()).toEqual([])
  })

  it('kills a window only after confirmation, and creates windows that open at once', async () => {
    await b.open('/')
    await b.page.getByTestId('session-proj').click()
    await b.page.getByTestId('kill-window-1').click()
    await b.page.getByTestId('confirm-yes').click()
    await expect.poll(() => b.tmux.run('list-windows', '-t', 'proj', '-F', '#{window_index}').trim(), POLL).toBe('0')
    await expect.poll(() => b.page.getByTestId('window-1').count(), POLL).toBe(0)

    await b.page.getByTestId('new-window').click()
    await expect.poll(() => b.tmux.run('list-windows', '-t', 'proj', '-F', '#{window_index}').trim().split('\n').length, POLL).toBe(2)
    await expect.poll(() => new URL(b.page.url()).pathname, POLL).toBe('/t/proj/1')
    expect(problems()).toEqual([])
  })

  it('shows a read-only phone no destructive control', async () => {
    await b.signInAs({ readOnly: true })
    await b.open('/')
    await b.page.getByTestId('session-proj').click()
    await expect.poll(() => b.page.getByTestId('window-1').count(), POLL).toBe(1)
    expect(await b.page.getByTestId('readonly-badge').count()).toBe(1)
    for (const id of ['kill-window-0', 'kill-window-1', 'kill-session', 'new-window']) expect(await b.page.getByTestId(id).count(), id).toBe(0)
    expect(await b.page.getByTestId('new-session-submit').isDisabled()).toBe(true)
    expect(problems()).toEqual([])
  })
})
